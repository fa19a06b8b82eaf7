import Foundation
import Testing
import TestSupport

/// Locates and loads the committed reference fixtures (made by tools/fixtures/make_fixtures.py, see
/// Fixtures/README.md). They are committed, so a missing or empty one fails the test that needs it.
enum Fixtures {
    /// A committed fixture that is missing, unreadable or holds no cases.
    struct Missing: Error, CustomStringConvertible {
        let relative: String
        let problem: String
        var description: String {
            "committed fixture Tests/DiffusionTests/Fixtures/\(relative) \(problem); restore it from git or rerun tools/fixtures/make_fixtures.py"
        }
    }

    /// A path under the fixtures folder (not checked; see `required`).
    static func path(_ relative: String) -> String { RepositoryPaths.fixture(relative) }

    /// The path of a committed fixture, which must exist.
    /// - Throws: `#require`'s error, recorded against the caller, when it is missing.
    static func required(_ relative: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let path = path(relative)
        try #require(FileManager.default.fileExists(atPath: path), "\(Missing(relative: relative, problem: "is missing"))",
                     sourceLocation: sourceLocation)
        return path
    }

    /// The top-level JSON object of a committed fixture. Usable where no test is running yet (in the
    /// `arguments:` of a parameterised test, whose error then fails that test).
    /// - Throws: `Missing` when the file is absent or not a JSON object.
    static func jsonObject(_ relative: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path(relative)) else { throw Missing(relative: relative, problem: "is missing") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Missing(relative: relative, problem: "is not a JSON object")
        }
        return object
    }

    /// The non-empty list of case objects under `key` in a committed JSON fixture.
    /// - Throws: `Missing` when the file is absent, or the list is absent or empty (a parameterised test
    ///   would otherwise pass with zero cases).
    static func caseList(_ relative: String, key: String) throws -> [[String: Any]] {
        guard let list = try jsonObject(relative)[key] as? [[String: Any]], !list.isEmpty else {
            throw Missing(relative: relative, problem: "has no \"\(key)\" cases")
        }
        return list
    }

    /// `cases`, which the fixtures `relative` hold under `key`, unless it is empty.
    /// - Throws: `Missing` when it is empty (a parameterised test would otherwise pass with zero cases).
    static func nonEmpty<C: Collection>(_ cases: C, _ relative: String, key: String) throws -> C {
        guard !cases.isEmpty else { throw Missing(relative: relative, problem: "has no \"\(key)\" cases") }
        return cases
    }

    /// Decodes a committed JSON fixture.
    /// - Throws: `#require`'s error when the file is missing, the decoder's when it does not decode.
    static func decode<T: Decodable>(_ type: T.Type, _ relative: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
        try JSONDecoder().decode(type, from: Data(contentsOf: URL(fileURLWithPath: required(relative, sourceLocation: sourceLocation))))
    }
}
