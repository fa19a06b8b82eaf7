public import Foundation

/// Where the tests find the repository and what is built or committed in it, found once.
public enum RepositoryPaths {
    /// The repository root: the nearest folder above this file that holds `Package.swift`.
    public static let root: URL = {
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while folder.path != "/" {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) { return folder }
            folder.deleteLastPathComponent()
        }
        preconditionFailure("no Package.swift above \(#filePath)")
    }()

    /// The folder holding the built executables (`sdfarm`, `sdfarm-worker`): the test bundle's own build
    /// folder when the executables are there, `.build/release` otherwise.
    public static let binDirectory: URL = {
        let bundle = Bundle.main.bundleURL
        for candidate in [bundle, bundle.deletingLastPathComponent()]
        where FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("sdfarm").path) {
            return candidate
        }
        return root.appendingPathComponent(".build/release")
    }()

    /// A built executable of the package, by product name.
    public static func executable(_ name: String) -> URL { binDirectory.appendingPathComponent(name) }

    /// `weights/`: the committed demo model and the CLIP vocabulary.
    public static var weights: URL { root.appendingPathComponent("weights") }

    /// `migrations/`: the farm's SQL migrations.
    public static var migrations: URL { root.appendingPathComponent("migrations") }

    /// `Tests/DiffusionTests/Fixtures`: the committed reference fixtures (see the README there).
    public static var fixtures: URL { root.appendingPathComponent("Tests/DiffusionTests/Fixtures") }

    /// A path under the fixtures folder.
    public static func fixture(_ relative: String) -> String { fixtures.appendingPathComponent(relative).path }
}
