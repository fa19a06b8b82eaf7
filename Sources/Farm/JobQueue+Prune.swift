import Foundation

/// Pruning: old finished batches (with their jobs and attempts) and workers long gone leave the database.
extension JobQueue {
    /// What `prune(olderThan:dryRun:)` removed (or, on a dry run, would remove).
    public struct PruneReport: Sendable, Codable, Equatable {
        /// The batches removed, oldest first.
        public let batches: [Int64]
        public let jobs: Int
        public let attempts: Int
        /// Worker rows stopped or silent for longer than the age.
        public let workers: [String]
        /// Folders of the removed batches' outputs, left on storage: the files are not deleted.
        public let outputFolders: [String]
        public let dryRun: Bool
        enum CodingKeys: String, CodingKey {
            case batches, jobs, attempts, workers
            case outputFolders = "output_folders", dryRun = "dry_run"
        }
    }

    /// Removes every batch whose jobs are all final (succeeded, failed or cancelled) and finished more than
    /// `seconds` ago — with its jobs and their attempts (foreign-key cascades) — and every worker row stopped
    /// or silent for more than `seconds`. A batch with a queued or running job is never touched; output files
    /// are left alone (the report names their folders). Folds the sharded `job_counts` rows of what remains.
    /// - Parameters:
    ///   - seconds: the age, more than 0.
    ///   - dryRun: report what would go, change nothing.
    /// - Throws: `invalidInput` for an age that is not positive.
    public func prune(olderThan seconds: Double, dryRun: Bool = false) throws -> PruneReport {
        guard seconds > 0, seconds.isFinite else { throw FarmError(.invalidInput, "the age to prune must be more than 0 seconds, not \(seconds)") }
        let age = String(seconds)
        return try db.transaction {
            // Candidates by their counters (no queued or running job), then checked on their jobs' finish times.
            let candidates = """
                SELECT b.id FROM batches b
                WHERE b.created_at < now() - make_interval(secs => $1::float8)
                  AND NOT EXISTS (SELECT 1 FROM job_counts c WHERE c.batch_id = b.id AND c.state IN ('queued', 'running')
                                  GROUP BY c.state HAVING sum(c.n) <> 0)
                  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = b.id
                                  AND (j.state NOT IN ('succeeded', 'failed', 'cancelled') OR j.finished_at IS NULL
                                       OR j.finished_at >= now() - make_interval(secs => $1::float8)))
                """
            if !dryRun {
                // Lock the candidates' jobs (a retry or cancel running now finishes first), then re-check below.
                try db.query("SELECT 1 FROM jobs WHERE batch_id IN (\(candidates)) ORDER BY id FOR UPDATE", [age])
            }
            let ids = try db.query("SELECT coalesce(jsonb_agg(id ORDER BY id), '[]')::text AS ids FROM (\(candidates)) x", [age])
                .value(0, "ids") ?? "[]"
            let sizes = try db.query("""
                WITH b AS (SELECT jsonb_array_elements_text($1::jsonb)::bigint AS id)
                SELECT (SELECT count(*) FROM jobs j WHERE j.batch_id IN (SELECT id FROM b)) AS jobs,
                       (SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.batch_id IN (SELECT id FROM b)) AS attempts,
                       (SELECT coalesce(jsonb_agg(DISTINCT regexp_replace(output_path, '/[^/]*$', '')), '[]')::text FROM jobs j
                        WHERE j.batch_id IN (SELECT id FROM b) AND output_path IS NOT NULL) AS folders
                """, [ids])
            let workerSelection = "coalesce(stopped_at, last_heartbeat_at) < now() - make_interval(secs => $1::float8)"
            let workers = try db.query("SELECT name FROM workers WHERE \(workerSelection) ORDER BY name", [age])
                .rows.compactMap { $0[0] }
            if !dryRun {
                try db.query("DELETE FROM batches WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)", [ids])
                try db.query("DELETE FROM workers WHERE \(workerSelection)", [age])
                try compactJobCounts()
            }
            let decoder = JSONDecoder()
            return PruneReport(batches: try decoder.decode([Int64].self, from: Data(ids.utf8)),
                               jobs: sizes.value(0, "jobs").flatMap(Int.init) ?? 0,
                               attempts: sizes.value(0, "attempts").flatMap(Int.init) ?? 0, workers: workers,
                               outputFolders: try decoder.decode([String].self, from: Data((sizes.value(0, "folders") ?? "[]").utf8)).sorted(),
                               dryRun: dryRun)
        }
    }

    /// Folds the shards of each (batch, state, kind) counter into shard 0 and drops rows that sum to nothing,
    /// so status reads one row per counter again. Safe beside running workers (their upserts wait or insert anew).
    public func compactJobCounts() throws {
        try db.query("""
            WITH gone AS (
                DELETE FROM job_counts WHERE shard <> 0 RETURNING batch_id, state, kind, n
            ), sums AS (
                SELECT batch_id, state, kind, sum(n) AS n FROM gone GROUP BY batch_id, state, kind HAVING sum(n) <> 0
            )
            INSERT INTO job_counts AS c (batch_id, state, kind, shard, n)
            SELECT batch_id, state, kind, 0, n FROM sums ORDER BY batch_id, state, kind
            ON CONFLICT (batch_id, state, kind, shard) DO UPDATE SET n = c.n + EXCLUDED.n
            """)
        try db.query("DELETE FROM job_counts WHERE n = 0")
    }
}
