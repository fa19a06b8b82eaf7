public import Foundation

/// A fresh temporary directory for one test, removed by `remove()` or, at the latest, when the value dies.
///
/// Swift may end a value's life at its last use, so a test that hands out paths inside the directory
/// keeps it with `defer { scratch.remove() }`.
public final class ScratchDirectory {
    /// The directory.
    public let url: URL

    /// Creates `<tmp>/<prefix>-<UUID>`.
    /// - Throws: the file system's error when the directory cannot be created.
    public init(prefix: String = "sdfarm-tests") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The directory's path.
    public var path: String { url.path }

    /// The path of `name` inside the directory.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// The URL of `name` inside the directory.
    public func url(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Removes the directory and everything in it (again is harmless).
    public func remove() { try? FileManager.default.removeItem(at: url) }

    deinit { remove() }
}
