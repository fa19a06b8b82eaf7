import Foundation

/// Locates the committed reference fixtures (made by tools/fixtures/make_fixtures.py, see Fixtures/README.md).
enum Fixtures {
    /// `Tests/DiffusionTests/Fixtures`.
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The repository root.
    static let repository: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A path under the fixtures folder.
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// True when the fixture exists (tests that need it are skipped, loudly, otherwise).
    static func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: path(relative)) }
}
