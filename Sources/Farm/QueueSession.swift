import Foundation
import Logging

/// A `JobQueue` on a connection that is reopened, with exponential backoff, whenever PostgreSQL goes away.
final class QueueSession {
    let url: String?
    let listen: Bool
    let options: JobQueue.Options
    let logger: Logger
    /// Asked between tries: true stops retrying and rethrows the connection error.
    let giveUp: () -> Bool
    private var queue: JobQueue?

    init(url: String?, listen: Bool, options: JobQueue.Options, logger: Logger, giveUp: @escaping () -> Bool) {
        self.url = url
        self.listen = listen
        self.options = options
        self.logger = logger
        self.giveUp = giveUp
    }

    /// The open connection's queue, connecting (and `LISTEN`ing) first if needed. Throws on failure.
    func connected() throws -> JobQueue {
        if let queue, queue.db.isOpen { return queue }
        queue?.db.close()
        queue = nil
        let db = try PostgresConnection(url: PostgresConnection.withNetworkTimeouts(url))
        if listen { try db.listen(JobQueue.channel) }
        let q = JobQueue(db, options: options, logger: logger)
        queue = q
        return q
    }

    /// Runs `body`, reconnecting and repeating it after a connection loss until it succeeds or `giveUp()`.
    /// `body` must be safe to repeat (every queue operation the worker uses is).
    func run<T>(_ what: String, _ body: (JobQueue) throws -> T) throws -> T {
        var delay = 0.1
        var failures = 0
        while true {
            do {
                let value = try body(try connected())
                if failures > 0 { logger.info("reconnected to PostgreSQL", metadata: ["after_failures": "\(failures)", "operation": "\(what)"]) }
                return value
            } catch let error as PostgresError where error.isTransientConflict {
                // Every operation is one statement (or one transaction that rolled back): repeat it.
                failures += 1
                if giveUp() { throw error }
                logger.notice("transient conflict; repeating", metadata: ["operation": "\(what)", "sqlstate": "\(error.sqlState ?? "")"])
                Thread.sleep(forTimeInterval: min(delay, 1))
                delay = min(delay * 2, 5)
            } catch let error as PostgresError where error.isConnectionLoss && !error.isConfigurationProblem {
                queue?.db.close()
                queue = nil
                failures += 1
                if giveUp() { throw error }
                if failures == 1 || failures % 10 == 0 {
                    logger.warning("PostgreSQL unreachable; retrying with backoff",
                                   metadata: ["operation": "\(what)", "error": "\(error.message)", "retry_in_s": "\(delay)"])
                }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    func close() {
        queue?.db.close()
        queue = nil
    }
}
