#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// The one way sdfarm writes a file: bytes go to a temporary sibling (`O_EXCL`, the project's file mode),
/// are `fsync`ed, renamed over the target, and the directory is `fsync`ed — so a reader sees the old file
/// or the whole new one, a crash never leaves half a file under the real name, and a failure leaves
/// nothing behind.
public enum AtomicFile {
    /// The mode of every file sdfarm writes: owner read/write, group read, others nothing
    /// (the process umask may remove more).
    public static let defaultMode: UInt32 = 0o640

    /// The mode of every folder sdfarm creates (owner all, group read and enter, others nothing).
    public static let directoryMode: UInt32 = 0o750

    /// Creates `path` and its missing parents with `directoryMode`.
    /// - Throws: `FileWriteError` (step `createDirectory`) naming the folder and the system's reason.
    public static func createDirectory(_ path: String) throws(FileWriteError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, mode_t(directoryMode)) != 0 && errno != EEXIST { throw FileWriteError(.createDirectory, path: prefix, errno: errno) }
        }
    }

    /// Writes `bytes` to `path` atomically.
    /// - Parameters:
    ///   - mode: permission bits of the new file.
    /// - Throws: `FileWriteError` naming the path, the step that failed and the system's reason.
    public static func write(_ bytes: [UInt8], to path: String, mode: UInt32 = defaultMode) throws(FileWriteError) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = (directory == "/" ? "" : directory) + "/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw FileWriteError(.create, path: path, errno: errno) }
        var failure: (FileWriteError.Step, Int32)?
        bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let n = systemWrite(fd, buffer.baseAddress! + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = (.write, errno)
                    return
                }
                written += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = (.sync, errno) }
        if close(fd) != 0, failure == nil { failure = (.write, errno) }
        if failure == nil, rename(temporary, path) != 0 { failure = (.rename, errno) }
        if let (step, code) = failure {
            unlink(temporary)
            throw FileWriteError(step, path: path, errno: code)
        }
        // The rename is durable only once the directory entry is on disk.
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }
}

/// A file could not be written; nothing was left under its name or a temporary one.
public struct FileWriteError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Which step of the atomic write failed.
    public enum Step: String, Sendable {
        case create = "create a temporary file beside"
        case createDirectory = "create the folder"
        case write = "write"
        case sync = "flush to disk"
        case rename = "rename the temporary file to"
    }

    public let step: Step
    public let path: String
    /// The system error number (`ENOSPC`, `EACCES`, `EROFS`, …).
    public let errno: Int32

    public init(_ step: Step, path: String, errno: Int32) {
        self.step = step
        self.path = path
        self.errno = errno
    }

    /// The system's words for `errno`.
    public var reason: String { String(cString: strerror(errno)) }

    /// True when the file system is full or over quota.
    public var isOutOfSpace: Bool { errno == ENOSPC || errno == EDQUOT }

    public var description: String { "cannot \(step.rawValue) \(path): \(reason)" }
}
