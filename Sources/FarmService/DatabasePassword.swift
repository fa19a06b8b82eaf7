import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the database password comes from when it is not in `DATABASE_URL`: never the command line (every user sees
/// it with `ps`), but a file only the service can read, handed over as
/// 1. a file named by `SDFARM_DATABASE_PASSWORD_FILE` (a Kubernetes Secret mounted as a volume, a Docker/Podman secret), or
/// 2. the systemd credential `database-password` (`LoadCredential=database-password:/etc/sdfarm/database-password`),
///    which systemd places in `$CREDENTIALS_DIRECTORY`, readable by this service only.
/// The password is put in `PGPASSWORD` of this process, where libpq takes it from when the connection string has
/// none. libpq's own `PGPASSFILE` (~/.pgpass) works as well and needs nothing from here.
public enum DatabasePassword {
    /// The systemd credential's name.
    public static let credentialName = "database-password"
    /// The environment variable naming a password file.
    public static let fileVariable = "SDFARM_DATABASE_PASSWORD_FILE"

    /// Where a password file is configured, if anywhere: the explicit file first, then the systemd credential.
    public static func configuredFile(environment: [String: String]? = nil) -> String? {
        let environment = environment ?? ProcessInfo.processInfo.environment
        if let file = environment[fileVariable], !file.isEmpty { return file }
        if let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty {
            let path = (dir as NSString).appendingPathComponent(credentialName)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    /// Reads the configured password file (if any) into `PGPASSWORD`; returns the file read.
    /// - Throws: `ServiceError` naming the file when it cannot be read or is empty.
    @discardableResult
    public static func load(environment: [String: String]? = nil) throws -> String? {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let path = configuredFile(environment: environment) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServiceError("database password file \(path) (\(fileVariable) or the systemd credential \(credentialName)) cannot be read")
        }
        var password = String(decoding: data, as: UTF8.self)
        while password.hasSuffix("\n") || password.hasSuffix("\r") { password.removeLast() }
        guard !password.isEmpty else { throw ServiceError("database password file \(path) is empty") }
        guard !password.contains("\n") else { throw ServiceError("database password file \(path) holds more than one line") }
        setenv("PGPASSWORD", password, 1)
        return path
    }

    /// True when `path` can be read by every user of the machine (a password file should not be).
    public static func isWorldReadable(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IROTH) != 0
    }
}
