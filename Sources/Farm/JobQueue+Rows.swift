import Foundation

/// The decoding edge: `jobs` rows become `RenderParameters` here, once. A row that does not decode is a
/// `FarmError(.undecodableJob)` naming the job and the field.
extension JobQueue {
    /// The columns `parameters(_:_:)` reads.
    static let parameterColumns = "j.kind, j.model, j.prompt, j.negative_prompt, j.seed::text AS seed, j.steps, j.sampler, j.cfg_scale, j.width, j.height, j.extra::text AS extra"

    /// The typed parameters of row `i` (which must also hold `id`).
    static func parameters(_ r: PostgresResult, _ i: Int) throws -> RenderParameters {
        let job = r.value(i, "id") ?? "?"
        func bad(_ field: String, _ problem: String) -> FarmError {
            FarmError(.undecodableJob, "job \(job) cannot be decoded: field \(field) \(problem)")
        }
        func text(_ c: String) throws -> String {
            guard let v = r.value(i, c) else { throw bad(c, "is missing or NULL") }
            return v
        }
        func number<T: LosslessStringConvertible>(_ c: String, _: T.Type) throws -> T {
            let raw = try text(c)
            guard let v = T(raw) else { throw bad(c, "'\(raw)' is not a \(T.self)") }
            return v
        }
        let extraText = try text("extra")
        let extra: [String: String]
        do { extra = try JSONDecoder().decode([String: String].self, from: Data(extraText.utf8)) } catch {
            throw bad("extra", "is not an object of strings: \(extraText.prefix(200))")
        }
        let stored = RenderParameters.StoredJob(
            kind: try text("kind"), model: try text("model"), prompt: try text("prompt"), negativePrompt: try text("negative_prompt"),
            seed: try number("seed", UInt64.self), steps: try number("steps", Int.self), sampler: try text("sampler"),
            cfgScale: try number("cfg_scale", Double.self), width: try number("width", Int.self), height: try number("height", Int.self),
            extra: extra)
        do { return try RenderParameters(stored: stored) } catch {
            throw FarmError(.undecodableJob, "job \(job) cannot be decoded: \(error)", underlying: error)
        }
    }
}
