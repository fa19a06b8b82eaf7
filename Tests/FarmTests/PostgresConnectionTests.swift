import Farm
import Foundation
import Testing

/// Integration tests take their database from `DATABASE_URL` (scripts/test starts a throwaway cluster).
enum TestDatabase {
    static var url: String? { ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } }
}

@Suite("libpq")
struct PostgresConnectionTests {
    @Test("a bound parameter makes the round trip unchanged, quotes and all", .enabled(if: TestDatabase.url != nil))
    func boundParameterRoundTrip() throws {
        let db = try PostgresConnection()
        let tricky = "Robert'); DROP TABLE students;-- ✓"
        let result = try db.query("SELECT $1::text AS echoed, length($1::text) AS n, $2::int + 1 AS next", [tricky, "41"])
        #expect(result.value(0, "echoed") == tricky)
        #expect(result.value(0, "n") == String(tricky.count))
        #expect(result.value(0, "next") == "42")
        let null = try db.query("SELECT $1::text IS NULL AS isnull", [nil])
        #expect(null.value(0, "isnull") == "t")
    }

    @Test("a bad statement reports its SQLSTATE")
    func errorsCarrySQLState() throws {
        guard TestDatabase.url != nil else { return }
        let db = try PostgresConnection()
        do {
            try db.query("SELECT * FROM no_such_table_here")
            Issue.record("expected an error")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42P01")
        }
    }

    @Test("an unreachable server is a connection error that says what to set")
    func unreachableServer() {
        #expect {
            _ = try PostgresConnection(url: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
        } throws: { error in
            guard let error = error as? PostgresError else { return false }
            return error.code == .connection && error.description.contains("DATABASE_URL")
        }
    }
}
