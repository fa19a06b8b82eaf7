import Basics
import Farm
import Foundation
import TestSupport
import Testing

/// What the farm writes to a host, and what it shows of its secrets, without a database.
@Suite("files and secrets on a host")
struct HostSafetyTests {
    @Test("outputs and folders get the project's modes, not world-readable ones")
    func fileModes() throws {
        let scratch = try ScratchDirectory(prefix: "modes")
        defer { scratch.remove() }
        let dir = scratch.path("a/b")
        try AtomicFile.createDirectory(dir)
        try AtomicFile.write([1, 2, 3], to: dir + "/x.png")
        let umask = { let m = Foundation.umask(0); Foundation.umask(m); return UInt32(m) }()
        func mode(_ path: String) throws -> UInt32 {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.uint32Value ?? 0o777
        }
        #expect(try mode(dir + "/x.png") == AtomicFile.defaultMode & ~umask)
        #expect(try mode(dir) == AtomicFile.directoryMode & ~umask)
        #expect(try mode(dir + "/x.png") & 0o007 == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["x.png"], "no temporary file is left")
        #expect(throws: FileWriteError.self) { try AtomicFile.createDirectory("/proc/sdfarm-no-such-folder") }
    }

    @Test("a connection string with a password is recognised, so the executables can warn about ps", arguments: [
        ("postgresql://user:secret@db/farm", true), ("postgres://user@db/farm", false),
        ("host=db user=x password=secret", true), ("host=db user=x", false), ("postgresql://db/farm?password=s", true),
    ])
    func passwordsOnTheCommandLine(url: String, hasPassword: Bool) {
        #expect(PostgresConnection.containsPassword(url) == hasPassword)
    }
}
