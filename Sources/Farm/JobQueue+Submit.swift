import Foundation
public import RenderFormat

/// Submission: validate every cell of a grid, then insert the batch and its jobs in one transaction.
extension JobQueue {
    /// What `submit` created.
    public struct Submission: Sendable, Codable, Equatable {
        public let batchID: Int64
        public let jobCount: Int
        enum CodingKeys: String, CodingKey { case batchID = "batch", jobCount = "jobs" }
    }

    /// A grid that passed every check, expanded into its jobs: what `submit(_:)` inserts.
    public struct CheckedGrid: Sendable {
        public let spec: GridSpec
        public let jobs: [RenderParameters]
    }

    /// Checks `spec` and expands it into its jobs, each validated; no database involved.
    /// - Parameters:
    ///   - validate: model-aware checks from the seam (`FarmDiffusion.ModelChecks`), run once per distinct job shape.
    /// - Throws: `RenderFormatError.invalid` naming the input, or whatever `validate` throws.
    public static func check(_ spec: GridSpec, validate: ((RenderParameters) throws -> Void)? = nil) throws -> CheckedGrid {
        var spec = spec
        spec.model = try normalizeModelPath(spec.model)
        try BatchLimits.validate(maxAttempts: spec.maxAttempts)
        try BatchLimits.validate(priority: spec.priority)
        try RenderLimits.validate(text: spec.name, as: .name)
        guard spec.initImage == nil || spec.interpolation == nil else {
            throw RenderFormatError.invalid(.interpolate, "cannot be combined with an init image in one batch")
        }
        guard let count = spec.jobCount, count <= BatchLimits.maxJobs else {
            throw RenderFormatError(.invalidParameter, "the grid expands to \(spec.jobCount.map(String.init) ?? "more than \(Int.max)") jobs; at most \(BatchLimits.maxJobs) fit in one batch — split it")
        }
        guard count > 0 else {
            throw RenderFormatError(.invalidParameter, "the grid is empty: give at least one prompt, seed, size, sampler, steps and CFG scale")
        }
        let jobs = try spec.expand()
        var checked = Set<RenderParameters>()
        for p in jobs {
            var shape = p
            shape.seed = 0
            if checked.insert(shape).inserted {
                try p.validate()
                try validate?(p)
            }
        }
        return CheckedGrid(spec: spec, jobs: jobs)
    }

    /// Validates every cell of `spec` (see `check`), then creates a batch and its jobs in one transaction and
    /// notifies idle workers. Nothing is written when any check fails.
    /// - Throws: `RenderFormatError.invalid` naming the input; `PostgresError`.
    public func submit(_ spec: GridSpec, validate: ((RenderParameters) throws -> Void)? = nil) throws -> Submission {
        try submit(try Self.check(spec, validate: validate))
    }

    /// Creates a batch and its jobs from a checked grid in one transaction and notifies idle workers.
    /// - Parameters:
    ///   - webhook: a URL that receives the batch's final counts when it ends (checked by `validateWebhookURL`).
    /// - Throws: `PostgresError`; `FarmError(.invalidInput)` for a bad webhook URL.
    public func submit(_ checked: CheckedGrid, webhook: String? = nil) throws -> Submission {
        let webhook = try webhook.map(Self.validateWebhookURL)
        let (spec, jobs) = (checked.spec, checked.jobs)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let specJSON = String(decoding: try encoder.encode(spec), as: UTF8.self)
        let jobsJSON = String(decoding: try encoder.encode(jobs), as: UTF8.self)
        return try db.transaction {
            let batch = try db.query("""
                INSERT INTO batches (name, spec, webhook_url, webhook_next_at)
                VALUES ($1, $2::jsonb, $3, CASE WHEN $3::text IS NULL THEN NULL ELSE now() END) RETURNING id
                """, [spec.name, specJSON, webhook])
            guard let id = batch.value(0, "id").flatMap(Int64.init) else { throw PostgresError(code: .result, message: "INSERT … RETURNING id gave no id") }
            let inserted = try db.query("""
                INSERT INTO jobs (batch_id, cell, kind, model, prompt, negative_prompt, seed, steps, sampler, cfg_scale,
                                  width, height, extra, priority, max_attempts)
                SELECT $1::bigint, (t.ord - 1)::int, x->>'kind', x->>'model', x->>'prompt', x->>'negative_prompt',
                       (x->>'seed')::numeric, (x->>'steps')::int, x->>'sampler', (x->>'cfg_scale')::float8,
                       (x->>'width')::int, (x->>'height')::int, coalesce(x->'extra', '{}'::jsonb), $3::int, $4::int
                FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(x, ord)
                """, [String(id), jobsJSON, String(spec.priority), String(spec.maxAttempts)])
            try db.query("SELECT pg_notify($1, $2)", [Self.channel, "submit \(id)"])
            return Submission(batchID: id, jobCount: inserted.affectedRows)
        }
    }

    /// An absolute, standardised path to an existing model file or folder; `.ckpt` refused.
    /// - Throws: `RenderFormatError.invalid(.model, …)`.
    public static func normalizeModelPath(_ path: String) throws(RenderFormatError) -> String {
        guard !path.isEmpty else { throw .invalid(.model, "path is empty") }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let standard = URL(fileURLWithPath: absolute).standardized.path
        if standard.lowercased().hasSuffix(".ckpt") {
            throw .invalid(.model, "\(standard) is a pickled .ckpt checkpoint; sdfarm never unpickles (it can run arbitrary code). Convert it to .safetensors first.")
        }
        guard FileManager.default.fileExists(atPath: standard) else {
            throw .invalid(.model, "\(standard) does not exist; give the path of a .safetensors checkpoint or a diffusers model folder as the workers will see it")
        }
        return standard
    }
}
