/// A PostgreSQL operation failed.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure, extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// Could not open a connection.
        public static let connection = Code(name: "connection")
        /// The server rejected or failed a statement.
        public static let query = Code(name: "query")
        /// A result had an unexpected shape or value.
        public static let result = Code(name: "result")
    }

    public let code: Code
    /// The statement, when one was running.
    public let query: String?
    /// The SQLSTATE the server sent, e.g. `40001`.
    public let sqlState: String?
    /// libpq's message.
    public let message: String

    public init(code: Code, query: String? = nil, sqlState: String? = nil, message: String) {
        self.code = code
        self.query = query
        self.sqlState = sqlState
        self.message = message
    }

    /// True for errors worth retrying on a new connection (the link or the server went away).
    public var isConnectionLoss: Bool {
        code == .connection || sqlState?.hasPrefix("08") == true || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03"
            || (sqlState == nil && code == .query)
    }

    /// True for a conflict worth repeating on the same connection: a serialization failure (40001), a deadlock
    /// (40P01) or a lock timeout (55P03).
    public var isTransientConflict: Bool { sqlState == "40001" || sqlState == "40P01" || sqlState == "55P03" }

    /// True when retrying cannot help: the server refused the credentials, or the database or role does not
    /// exist. A worker exits with libpq's reason instead of retrying as if it were an outage.
    public var isConfigurationProblem: Bool {
        guard code == .connection else { return sqlState == "28P01" || sqlState == "28000" || sqlState == "3D000" }
        let m = message.lowercased()
        return m.contains("authentication failed") || m.contains("no pg_hba.conf entry")
            || (m.contains("database") && m.contains("does not exist")) || (m.contains("role") && m.contains("does not exist"))
    }

    public var description: String {
        switch code {
        case .connection:
            "cannot connect to PostgreSQL: \(message). Set DATABASE_URL (or PGHOST/PGPORT/PGUSER/PGDATABASE) or give the database URL."
        default:
            "PostgreSQL \(code) error\(sqlState.map { " \($0)" } ?? ""): \(message)\(query.map { " [query: \($0.prefix(200))]" } ?? "")"
        }
    }
}
