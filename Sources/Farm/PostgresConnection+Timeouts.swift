import Foundation

extension PostgresConnection {
    /// True when a connection string given on the command line carries a password (`user:secret@` or
    /// `password=`): every user of the machine can read it with `ps`.
    public static func containsPassword(_ url: String) -> Bool {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return URLComponents(string: url)?.password?.isEmpty == false || url.contains("password=")
        }
        return url.contains("password=")
    }

    /// How long a statement waits for a row lock before failing with 55P03.
    public static let lockTimeoutMilliseconds = 5000

    /// `url` (or the environment's connection) with libpq timeouts added unless already set, so a cut
    /// network link is noticed within seconds instead of the kernel's TCP timeout of many minutes, and a
    /// statement blocked by a row lock someone else holds (an admin's open transaction) gives up after
    /// `lockTimeout` (SQLSTATE 55P03, retried by the worker) instead of hanging it.
    public static func withNetworkTimeouts(_ url: String?) -> String {
        let base = (url?.isEmpty == false ? url : nil)
            ?? ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? ""
        let isURL = base.hasPrefix("postgres://") || base.hasPrefix("postgresql://")
        let settings = [("connect_timeout", "5"), ("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"),
                        ("keepalives_count", "2"), ("tcp_user_timeout", "8000"),
                        ("options", isURL ? "-c%20lock_timeout%3D\(lockTimeoutMilliseconds)" : "'-c lock_timeout=\(lockTimeoutMilliseconds)'")]
        let missing = settings.filter { !base.contains($0.0 + "=") }
        guard !missing.isEmpty else { return base }
        if isURL {
            let query = missing.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
            return base + (base.contains("?") ? "&" : "?") + query
        }
        return (base.isEmpty ? "" : base + " ") + missing.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }
}
