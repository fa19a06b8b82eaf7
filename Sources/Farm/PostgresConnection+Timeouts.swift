import Foundation

extension PostgresConnection {
    /// `url` (or the environment's connection) with libpq timeouts added unless already set, so a cut
    /// network link is noticed within seconds instead of the kernel's TCP timeout of many minutes.
    public static func withNetworkTimeouts(_ url: String?) -> String {
        let base = (url?.isEmpty == false ? url : nil)
            ?? ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? ""
        let settings = [("connect_timeout", "5"), ("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"),
                        ("keepalives_count", "2"), ("tcp_user_timeout", "8000")]
        let missing = settings.filter { !base.contains($0.0 + "=") }
        guard !missing.isEmpty else { return base }
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://") {
            let query = missing.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
            return base + (base.contains("?") ? "&" : "?") + query
        }
        return (base.isEmpty ? "" : base + " ") + missing.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }
}
