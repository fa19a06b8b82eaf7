import Foundation

/// Webhooks: a batch may name a URL that receives a POST with its final counts once nothing of it is queued or
/// running. Delivery is the serve process's (`FarmServer.WebhookDeliverer`), never a worker's: it claims due
/// deliveries here, posts, and records the outcome; failures are retried with exponential backoff.
extension JobQueue {
    /// The longest webhook URL accepted.
    public static let maxWebhookURLLength = 2048

    /// Checks a webhook URL: absolute `http` or `https` with a host, no user or password in it, at most
    /// `maxWebhookURLLength` characters.
    /// - Throws: `FarmError(.invalidInput)` naming the problem.
    public static func validateWebhookURL(_ text: String) throws -> String {
        guard text.utf8.count <= maxWebhookURLLength else {
            throw FarmError(.invalidInput, "webhook_url is \(text.utf8.count) bytes long; at most \(maxWebhookURLLength) are accepted")
        }
        guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw FarmError(.invalidInput, "webhook_url '\(text.prefix(100))' is not an http:// or https:// URL")
        }
        guard let host = c.host, !host.isEmpty else { throw FarmError(.invalidInput, "webhook_url '\(text.prefix(100))' has no host") }
        guard c.user == nil, c.password == nil else {
            throw FarmError(.invalidInput, "webhook_url must not hold a user or password (it is shown on the dashboard); put a secret in the path or query instead")
        }
        guard !text.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) else {
            throw FarmError(.invalidInput, "webhook_url contains whitespace or control characters")
        }
        return text
    }

    /// A delivery claimed by `claimWebhooks`.
    public struct WebhookDelivery: Sendable, Equatable {
        public let batch: Int64
        public let url: String
        /// Deliveries tried before this one.
        public let attempts: Int
        /// The JSON body: `{"batch": …, "name": …, "counts": {…}, "total": …}`.
        public let body: String
    }

    /// Claims up to `limit` due deliveries of batches that have ended, holding each for `hold` seconds (another
    /// serve process skips it meanwhile), and builds their bodies from the final counts.
    public func claimWebhooks(limit: Int = 10, hold: Double = 60) throws -> [WebhookDelivery] {
        let r = try db.query("""
            UPDATE batches b SET webhook_next_at = now() + make_interval(secs => $2::float8)
            WHERE b.id IN (
                SELECT id FROM batches x WHERE x.webhook_url IS NOT NULL AND x.webhook_delivered_at IS NULL AND x.webhook_next_at <= now()
                  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.batch_id = x.id AND j.state IN ('queued', 'running'))
                ORDER BY x.webhook_next_at LIMIT $1::int FOR UPDATE SKIP LOCKED)
            RETURNING b.id, b.webhook_url, b.webhook_attempts
            """, [String(limit), String(hold)])
        return try (0..<r.rows.count).compactMap { i in
            guard let id = r.value(i, "id").flatMap(Int64.init), let url = r.value(i, "webhook_url") else { return nil }
            let summary = try batch(id)
            struct Body: Encodable {
                let batch: Int64, name: String, counts: [String: Int], total: Int, event = "batch.finished"
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let body = String(decoding: try encoder.encode(Body(batch: id, name: summary.name, counts: summary.counts, total: summary.total)), as: UTF8.self)
            return WebhookDelivery(batch: id, url: url, attempts: r.value(i, "webhook_attempts").flatMap(Int.init) ?? 0, body: body)
        }
    }

    /// Records a successful delivery.
    public func webhookDelivered(batch id: Int64) throws {
        try db.query("""
            UPDATE batches SET webhook_delivered_at = now(), webhook_attempts = webhook_attempts + 1, webhook_next_at = NULL,
                   webhook_last_error = NULL WHERE id = $1::bigint
            """, [String(id)])
    }

    /// Records a failed delivery: retried after `retryIn` seconds, or given up (nil) — the error stays on the batch.
    public func webhookFailed(batch id: Int64, error: String, retryIn: Double?) throws {
        try db.query("""
            UPDATE batches SET webhook_attempts = webhook_attempts + 1, webhook_last_error = $2,
                   webhook_next_at = CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $3::float8) END
            WHERE id = $1::bigint
            """, [String(id), String(error.prefix(1000)), retryIn.map { String($0) }])
    }
}
