public import Farm
import Foundation
import HTTPTypes
public import Hummingbird
public import Logging
import NIOCore

/// `sdfarm serve`: the dashboard (server-rendered pages that reload their live part every 2 s), the JSON API
/// under `/api/v1`, and webhook delivery, over a small pool of PostgreSQL connections on their own threads.
///
/// Security: every API request needs `Authorization: Bearer <token>` (401 otherwise); every POST is refused
/// when it comes from another site (`Origin` or `Sec-Fetch-Site`, 403) and needs the bearer header (a cookie
/// never authorises an action); read-only pages are open on loopback and need the token (header or cookie)
/// elsewhere; images are found by job id in the database, never by a path from the request; request bodies
/// are limited; everything shown is HTML-escaped.
public struct FarmServer: Sendable {
    public let configuration: ServerConfiguration
    let pool: DatabasePool
    let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.pool = DatabasePool(url: configuration.database, size: 4, logger: logger)
        self.logger = logger
    }

    /// Serves until the process is stopped; `onRunning` receives the bound port (useful with port 0).
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let router = Router()
        APIRoutes(server: self).register(router)
        DashboardPages(server: self).register(router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "sdfarm"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        let deliverer = configuration.webhooks ? WebhookDeliverer(pool: pool, logger: logger) : nil
        // The server ends on SIGTERM/SIGINT (runService handles them); the webhook loop is cancelled with it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            if let deliverer { group.addTask { await deliverer.run() } }
            try await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Security checks shared by the pages and the API

    /// The bearer token of `request`, if it carries the right one (compared in constant time).
    func hasBearerToken(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
        return Self.constantTimeEqual(String(header.dropFirst("Bearer ".count)), configuration.token)
    }

    /// Whether a read-only page may be shown: always on loopback, else with the token (header or cookie).
    func mayRead(_ request: Request) -> Bool {
        if configuration.isLoopback || hasBearerToken(request) { return true }
        guard let cookies = request.headers[.cookie] else { return false }
        for part in cookies.split(separator: ";") {
            let kv = part.trimmingCharacters(in: .whitespaces)
            if kv.hasPrefix("sdfarm_token="),
               let value = String(kv.dropFirst("sdfarm_token=".count)).removingPercentEncoding,
               Self.constantTimeEqual(value, configuration.token) { return true }
        }
        return false
    }

    /// A reason to refuse `request` as cross-site, or nil: a `Sec-Fetch-Site` other than same-origin/none, or an
    /// `Origin` whose host and port differ from the request's `Host`.
    func crossSiteReason(_ request: Request) -> String? {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], !["same-origin", "none"].contains(site.lowercased()) {
            return "Sec-Fetch-Site is \(site)"
        }
        if let origin = request.headers[HTTPField.Name("Origin")!] {
            let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!] ?? ""
            guard let o = URLComponents(string: origin), let oh = o.host else { return "Origin \(origin) is not a URL" }
            let originAuthority = o.port.map { "\(oh):\($0)" } ?? oh
            let bare = host.split(separator: ":").first.map(String.init) ?? host
            guard originAuthority.lowercased() == host.lowercased() || (o.port == nil && oh.lowercased() == bare.lowercased() && !host.contains(":")) else {
                return "Origin \(origin) is not this server (\(host))"
            }
        }
        return nil
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    // MARK: - Images, by job id only

    /// The PNG of job `id` once it succeeded: `output_path` from the database, read only when it lies under the
    /// storage root. nil until the image exists.
    func image(job id: Int64) async throws -> [UInt8]? {
        let job = try await pool.run { try $0.job(id) }
        guard job.state == .succeeded, let path = job.outputPath else { return nil }
        let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        guard resolved.hasPrefix(configuration.storage + "/") else {
            logger.warning("job output outside the storage root is not served", metadata: ["job.id": "\(id)", "path": "\(resolved)"])
            return nil
        }
        return FileManager.default.contents(atPath: resolved).map { [UInt8]($0) }
    }

    // MARK: - Responses

    static func html(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                                           HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func png(_ bytes: [UInt8], filename: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "image/png", HTTPField.Name("X-Content-Type-Options")!: "nosniff"]
        if let filename { headers[HTTPField.Name("Content-Disposition")!] = "attachment; filename=\"\(filename)\"" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(["error": message], status: status)
    }

    /// The HTTP status and message for an error thrown by the farm.
    static func failure(_ error: any Error) -> Response {
        if let e = error as? FarmError {
            switch e.code {
            case .notFound: return Self.error(.notFound, e.message)
            case .invalidInput: return Self.error(.badRequest, e.message)
            default: return Self.error(.internalServerError, e.message)
            }
        }
        if let e = error as? PostgresError { return Self.error(.serviceUnavailable, "the database: \(e)") }
        return Self.error(.internalServerError, "\(error)")
    }
}
