import Foundation
public import Logging

/// Applies the numbered SQL files of `migrations/` that the database has not seen, in order, each in its
/// own transaction, under a session advisory lock so two migrators never race.
public struct Migrator {
    /// One migration file: `0001_queue.sql` → version 1, name `queue`.
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    /// The advisory lock key (an arbitrary constant: "sdfm").
    public static let lockKey: Int64 = 0x7364_666D

    public let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Loads `NNNN_name.sql` files from `directory`.
    public init(directory: String, logger: Logger) throws {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw FarmError(.migration, "cannot read the migrations directory \(directory): \(error.localizedDescription); point SDFARM_MIGRATIONS (or the migrations option) at the repository's migrations/", underlying: error)
        }
        var found: [Migration] = []
        for file in files where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw FarmError(.migration, "migration file \(directory)/\(file) is not named NNNN_name.sql")
            }
            guard let sql = try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8) else {
                throw FarmError(.migration, "cannot read migration file \(directory)/\(file)")
            }
            if let other = found.first(where: { $0.version == version }) {
                throw FarmError(.migration, "two migrations have version \(version): \(other.name) and \(stem)")
            }
            found.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        guard !found.isEmpty else { throw FarmError(.migration, "no NNNN_name.sql files in \(directory)") }
        self.init(migrations: found, logger: logger)
    }

    /// The first of: `explicit`, `$SDFARM_MIGRATIONS`, `migrations/` next to the repository that built
    /// `executable`, `<prefix>/share/sdfarm/migrations`, `./migrations`.
    public static func locateDirectory(explicit: String?, executable: String) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = ProcessInfo.processInfo.environment["SDFARM_MIGRATIONS"], !env.isEmpty { return env }
        let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            exe.appendingPathComponent("../../../migrations").standardized.path,   // .build/<triple>/release/sdfarm
            exe.appendingPathComponent("../../migrations").standardized.path,
            exe.appendingPathComponent("../share/sdfarm/migrations").standardized.path,
            FileManager.default.currentDirectoryPath + "/migrations",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/0001_queue.sql") }
    }

    /// Applies what is missing; returns the versions applied now (empty when up to date).
    @discardableResult
    public func migrate(_ db: PostgresConnection) throws -> [Int] {
        try db.query("SELECT pg_advisory_lock($1::bigint)", [String(Self.lockKey)])
        defer { _ = try? db.query("SELECT pg_advisory_unlock($1::bigint)", [String(Self.lockKey)]) }
        try db.execute(script: "SET client_min_messages = warning")
        try db.execute(script: """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let applied = Set(try db.query("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap(Int.init) })
        var done: [Int] = []
        for m in migrations where !applied.contains(m.version) {
            try db.execute(script: "BEGIN")
            do {
                try db.execute(script: m.sql)
                try db.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [String(m.version), m.name])
                try db.execute(script: "COMMIT")
            } catch {
                _ = try? db.execute(script: "ROLLBACK")
                throw FarmError(.migration, "migration \(m.version)_\(m.name) failed and was rolled back: \(error)", underlying: error)
            }
            logger.info("applied migration", metadata: ["version": "\(m.version)", "name": "\(m.name)"])
            done.append(m.version)
        }
        return done
    }
}
