import Farm
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging

/// Delivers batch webhooks from the serve process (never from a worker): every 2 s it claims the deliveries of
/// batches that have ended, POSTs each body with a 10 s timeout, and records the outcome. A failure is retried
/// after 2, 4, 8 … s (at most 10 minutes apart), `maxAttempts` times in all.
struct WebhookDeliverer: Sendable {
    let pool: DatabasePool
    let logger: Logger
    static let timeout: TimeInterval = 10
    static let maxAttempts = 10
    static let interval: Duration = .seconds(2)

    func run() async {
        let session = URLSession(configuration: .ephemeral)
        while !Task.isCancelled {
            do {
                let due = try await pool.run { try $0.claimWebhooks(limit: 10, hold: Self.timeout * 3) }
                for delivery in due { await deliver(delivery, session) }
            } catch {
                logger.warning("webhook pass failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: Self.interval)
        }
    }

    func deliver(_ d: JobQueue.WebhookDelivery, _ session: URLSession) async {
        var request = URLRequest(url: URL(string: d.url)!, timeoutInterval: Self.timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("sdfarm", forHTTPHeaderField: "User-Agent")
        request.httpBody = Data(d.body.utf8)
        var failure: String?
        do {
            let (_, response) = try await session.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            if !(200..<300).contains(status) { failure = "HTTP \(status)" }
        } catch {
            failure = "\(error.localizedDescription)"
        }
        do {
            if let failure {
                let attempt = d.attempts + 1
                let retry: Double? = attempt >= Self.maxAttempts ? nil : min(600, pow(2, Double(attempt)))
                logger.warning("webhook delivery failed", metadata: ["batch": "\(d.batch)", "attempt": "\(attempt)", "error": "\(failure)"])
                try await pool.run { try $0.webhookFailed(batch: d.batch, error: failure, retryIn: retry) }
            } else {
                logger.info("webhook delivered", metadata: ["batch": "\(d.batch)"])
                try await pool.run { try $0.webhookDelivered(batch: d.batch) }
            }
        } catch {
            logger.warning("webhook outcome not recorded", metadata: ["batch": "\(d.batch)", "error": "\(error)"])
        }
    }
}
