internal import CLibPQ
import Foundation

/// One libpq connection. Not thread-safe: use it from one task or thread at a time.
///
/// Every value a caller passes goes to the server as a bound text parameter (`$1`, `$2`, …), never
/// spliced into SQL.
public final class PostgresConnection {
    private var conn: OpaquePointer?

    /// Opens a connection. `url` may be a `postgresql://` URL or a libpq keyword string; nil (or
    /// empty) uses `DATABASE_URL`, then libpq's own `PG*` environment variables.
    public init(url: String? = nil) throws {
        let target = (url?.isEmpty == false ? url : nil)
            ?? ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ""
        let c = PQconnectdb(target)
        guard let c, PQstatus(c) == CONNECTION_OK else {
            let message = c.map { String(cString: PQerrorMessage($0)).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "out of memory"
            if let c { PQfinish(c) }
            throw PostgresError(code: .connection, message: message)
        }
        conn = c
    }

    deinit { close() }

    /// Closes the connection; later calls fail.
    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// True while libpq believes the connection is usable.
    public var isOpen: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The socket, for waiting on notifications with `poll(2)`.
    public var socket: Int32 { conn.map { PQsocket($0) } ?? -1 }

    /// Runs one statement with bound text parameters and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> PostgresResult {
        guard let conn else { throw PostgresError(code: .connection, query: sql, message: "connection is closed") }
        var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
        defer { cStrings.forEach { free($0) } }
        let result: OpaquePointer? = cStrings.withUnsafeMutableBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buf.count, 1)) { values in
                PQexecParams(conn, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : values, nil, nil, 0)
            }
        }
        guard let result else {
            throw PostgresError(code: .query, query: sql, message: String(cString: PQerrorMessage(conn)))
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PostgresError(code: .query, query: sql, sqlState: state, message: message.isEmpty ? String(cString: PQerrorMessage(conn)) : message)
        }
        let rows = Int(PQntuples(result)), cols = Int(PQnfields(result))
        let names = (0..<cols).map { String(cString: PQfname(result, Int32($0))) }
        var values: [[String?]] = []
        values.reserveCapacity(rows)
        for r in 0..<rows {
            values.append((0..<cols).map { c in
                PQgetisnull(result, Int32(r), Int32(c)) != 0 ? nil : String(cString: PQgetvalue(result, Int32(r), Int32(c)))
            })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresResult(columns: names, rows: values, affectedRows: affected)
    }

    /// Runs several statements without parameters (migrations). Nothing user-typed goes here.
    public func execute(script sql: String) throws {
        guard let conn else { throw PostgresError(code: .connection, query: sql, message: "connection is closed") }
        guard let result = PQexec(conn, sql) else {
            throw PostgresError(code: .query, query: sql, message: String(cString: PQerrorMessage(conn)))
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            throw PostgresError(code: .query, query: sql, sqlState: state,
                                message: String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// A notification received on a channel this connection `LISTEN`s to.
    public struct Notification: Sendable {
        public let channel: String
        public let payload: String
    }

    /// Waits up to `timeout` seconds for notifications and returns those that arrived (maybe none).
    public func waitForNotifications(timeout: Double) throws -> [Notification] {
        guard let conn else { throw PostgresError(code: .connection, message: "connection is closed") }
        var collected = drainNotifications()
        if !collected.isEmpty { return collected }
        var fds = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
        let ready = poll(&fds, 1, Int32(max(0, timeout * 1000)))
        if ready < 0, errno != EINTR { throw PostgresError(code: .connection, message: String(cString: strerror(errno))) }
        if ready > 0 {
            guard PQconsumeInput(conn) != 0 else {
                throw PostgresError(code: .connection, message: String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        collected = drainNotifications()
        return collected
    }

    private func drainNotifications() -> [Notification] {
        guard let conn else { return [] }
        var out: [Notification] = []
        while let n = PQnotifies(conn) {
            out.append(Notification(channel: String(cString: n.pointee.relname), payload: String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }
}

/// Rows of a finished statement, every value as text (or nil for SQL NULL).
public struct PostgresResult: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows the command touched (`UPDATE 3` → 3).
    public let affectedRows: Int

    /// The value at row `row`, column `name`; nil for NULL, a missing column or a missing row.
    public func value(_ row: Int, _ name: String) -> String? {
        guard row >= 0, row < rows.count, let c = columns.firstIndex(of: name) else { return nil }
        return rows[row][c]
    }
}

extension PostgresConnection {
    /// Runs `body` inside `BEGIN … COMMIT`, rolling back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute(script: "BEGIN")
        do {
            let value = try body()
            try execute(script: "COMMIT")
            return value
        } catch {
            _ = try? execute(script: "ROLLBACK")
            throw error
        }
    }

    /// Starts listening on `channel` (a fixed identifier chosen by the program, never user input).
    public func listen(_ channel: String) throws {
        precondition(channel.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "channel names are identifiers")
        try execute(script: "LISTEN \(channel)")
    }
}
