import Farm
import FarmDiffusion
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The JSON API under `/api/v1`: every request needs the bearer token; POSTs are refused from other sites.
struct APIRoutes {
    let server: FarmServer
    var pool: DatabasePool { server.pool }

    /// Jobs per page of `GET /api/v1/batches/{id}/jobs` unless `limit` says otherwise.
    static let defaultPage = 100

    func register(_ router: Router<BasicRequestContext>) {
        let api = router.group("api/v1")
        api.post("batches") { request, _ in await guarded(request, post: true) { try await submit(request) } }
        api.get("batches/{id}") { request, context in
            await guarded(request) {
                let id = try Self.id(context, "id")
                let (batch, status) = try await pool.run { q in (try q.batch(id), try q.status(batch: id)) }
                return FarmServer.json(BatchStatus(batch: batch, status: status))
            }
        }
        api.get("batches/{id}/jobs") { request, context in
            await guarded(request) {
                let id = try Self.id(context, "id")
                let query = request.uri.queryParameters
                let limit = query.get("limit").map { Int($0) ?? -1 } ?? Self.defaultPage
                let after = try query.get("after").map { v -> Int64 in
                    guard let n = Int64(v), n > 0 else { throw FarmError(.invalidInput, "after=\(v) is not a job id") }
                    return n
                }
                let state = try query.get("state").map { v -> JobState in
                    guard let s = JobState(rawValue: v) else { throw FarmError(.invalidInput, "state=\(v) is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))") }
                    return s
                }
                let jobs = try await pool.run { try $0.jobs(batch: id, state: state, limit: limit, after: after) }
                return FarmServer.json(JobPage(jobs: jobs, nextAfter: jobs.count == limit ? jobs.last?.id : nil))
            }
        }
        api.get("jobs/{id}") { request, context in
            await guarded(request) {
                let id = try Self.id(context, "id")
                let (job, attempts) = try await pool.run { q in (try q.job(id), try q.attempts(of: id)) }
                return FarmServer.json(JobDetail(job: job, attempts: attempts))
            }
        }
        api.get("jobs/{id}/image") { request, context in
            await guarded(request) {
                guard let png = try await server.image(job: try Self.id(context, "id")) else {
                    return FarmServer.error(.notFound, "the job has no image yet")
                }
                return FarmServer.png(png)
            }
        }
        api.post("jobs/{id}/retry") { request, context in
            await guarded(request, post: true) {
                let id = try Self.id(context, "id")
                return FarmServer.json(["requeued": try await pool.run { try $0.retry(jobs: [id]) }])
            }
        }
        api.post("jobs/{id}/cancel") { request, context in
            await guarded(request, post: true) {
                let id = try Self.id(context, "id")
                return FarmServer.json(try await pool.run { try $0.cancel(jobs: [id]) })
            }
        }
        api.post("batches/{id}/retry") { request, context in
            await guarded(request, post: true) {
                let id = try Self.id(context, "id")
                let requeued: Int = try await pool.run { q in
                    try q.requireBatch(id)
                    let failed = try q.jobs(batch: id, state: .failed).map(\.id)
                    return failed.isEmpty ? 0 : try q.retry(jobs: failed)
                }
                return FarmServer.json(["requeued": requeued])
            }
        }
        api.post("batches/{id}/cancel") { request, context in
            await guarded(request, post: true) {
                let id = try Self.id(context, "id")
                return FarmServer.json(try await pool.run { try $0.cancel(batch: id) })
            }
        }
        api.post("batches/{id}/pause") { request, context in
            await guarded(request, post: true) {
                let id = try Self.id(context, "id")
                return FarmServer.json(["changed": try await pool.run { try $0.setPaused(batch: id, true) }])
            }
        }
        api.post("batches/{id}/resume") { request, context in
            await guarded(request, post: true) {
                let id = try Self.id(context, "id")
                return FarmServer.json(["changed": try await pool.run { try $0.setPaused(batch: id, false) }])
            }
        }
        api.post("batches/{id}/priority") { request, context in
            await guarded(request, post: true) {
                let id = try Self.id(context, "id")
                struct Body: Decodable { let priority: Int }
                let body = try await decode(Body.self, request)
                return FarmServer.json(["updated": try await pool.run { try $0.setPriority(batch: id, body.priority) }])
            }
        }
    }

    /// The checks every API request passes: cross-site POSTs refused (403), the bearer token required (401).
    func guarded(_ request: Request, post: Bool = false, _ body: () async throws -> Response) async -> Response {
        if post, let reason = server.crossSiteReason(request) { return FarmServer.error(.forbidden, "cross-site request refused: \(reason)") }
        guard server.hasBearerToken(request) else {
            var r = FarmServer.error(.unauthorized, "give the API token: Authorization: Bearer <token>")
            r.headers[.wwwAuthenticate] = "Bearer"
            return r
        }
        do { return try await body() } catch let e as BodyError { return FarmServer.error(e.status, e.message) } catch { return FarmServer.failure(error) }
    }

    struct BodyError: Error { let status: HTTPResponse.Status; let message: String }

    /// The request body as JSON of type `T`, at most the configured size.
    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let limit = server.configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw BodyError(status: .contentTooLarge, message: "the request body is \(length) bytes; at most \(limit) are accepted")
        }
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: limit) } catch {
            throw BodyError(status: .contentTooLarge, message: "the request body is larger than \(limit) bytes")
        }
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw BodyError(status: .unsupportedMediaType, message: "send the body as Content-Type: application/json")
        }
        do { return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView)) } catch let e as DecodingError {
            throw BodyError(status: .badRequest, message: "the body is not the expected JSON: \(Self.describe(e))")
        } catch {
            throw BodyError(status: .badRequest, message: "the body is not JSON: \(error)")
        }
    }

    /// `POST /api/v1/batches`: checked as `sdfarm submit` checks (`SubmitRequest.check`), then inserted.
    func submit(_ request: Request) async throws -> Response {
        let body = try await decode(SubmitRequest.self, request)
        let checked: SubmitRequest.Checked
        do { checked = try body.check() } catch { throw BodyError(status: .badRequest, message: "\(error)") }
        if let picture = checked.initImage { try InitImageStore.store(picture, storage: server.configuration.storage) }
        let submission = try await pool.run { try $0.submit(checked.grid, webhook: checked.webhookURL) }
        return FarmServer.json(Created(id: submission.batchID, jobs: submission.jobCount), status: .created)
    }

    static func id(_ context: BasicRequestContext, _ name: String) throws -> Int64 {
        guard let text = context.parameters.get(name), let id = Int64(text), id > 0 else {
            throw FarmError(.notFound, "no such \(name): ids are positive whole numbers")
        }
        return id
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, _): return "missing field \(k.stringValue)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "field \(path(c).isEmpty ? "(root)" : path(c)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    struct Created: Encodable { let id: Int64; let jobs: Int }

    struct BatchStatus: Encodable {
        let batch: JobQueue.BatchSummary
        let status: JobQueue.StatusReport
        enum CodingKeys: String, CodingKey {
            case id, name, paused, counts, total, created_at, webhook_url, eta_seconds, throughput_per_minute, done
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(batch.id, forKey: .id)
            try c.encode(batch.name, forKey: .name)
            try c.encode(batch.paused, forKey: .paused)
            try c.encode(status.counts, forKey: .counts)
            try c.encode(status.total, forKey: .total)
            try c.encode(batch.createdAt, forKey: .created_at)
            try c.encode(batch.webhookURL, forKey: .webhook_url)
            try c.encode(status.etaSeconds, forKey: .eta_seconds)
            try c.encode(status.throughputPerMinute, forKey: .throughput_per_minute)
            try c.encode(status.isDone, forKey: .done)
        }
    }

    struct JobPage: Encodable {
        let jobs: [JobQueue.JobSummary]
        let nextAfter: Int64?
        enum CodingKeys: String, CodingKey { case jobs, nextAfter = "next_after" }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(jobs, forKey: .jobs)
            try c.encode(nextAfter, forKey: .nextAfter)  // null on the last page, not absent
        }
    }

    struct JobDetail: Encodable {
        let job: JobQueue.JobSummary
        let attempts: [JobQueue.AttemptRecord]
    }
}
