import Foundation
public import Logging

/// The PostgreSQL job queue: submit, claim, heartbeat, complete, fail, rescue, and the operator's commands.
///
/// Every operation is one statement (or one short transaction) with bound parameters. Completion, failure
/// and heartbeats are fenced on job id + lease owner + lease token: a worker that lost its lease cannot
/// touch a job someone else now holds. Not thread-safe (one connection): give each thread its own queue.
///
/// The operations live by concern: `JobQueue+Submit` (validation and insertion), `JobQueue+Lease` (claim,
/// heartbeat, the fenced finishes, rescue), `JobQueue+Workers` (the worker registry), `JobQueue+Admin`
/// (listings, status, cancel, retry). Rows become typed values in `JobQueue+Rows`, and nowhere else.
public final class JobQueue {
    /// The channel idle workers `LISTEN` on; submit, retry and rescue `NOTIFY` it.
    public static let channel = "sdfarm_jobs"

    /// Retry timing.
    public struct Options: Sendable {
        /// Seconds before the first retry; doubles with each attempt.
        public var backoffBase: Double
        /// The longest retry delay.
        public var backoffMax: Double
        /// A worker that failed a job may retake it only this long after it became due, leaving it to others first.
        public var sameWorkerGrace: Double

        public init(backoffBase: Double = 2, backoffMax: Double = 300, sameWorkerGrace: Double = 2) {
            self.backoffBase = backoffBase
            self.backoffMax = backoffMax
            self.sameWorkerGrace = sameWorkerGrace
        }

        /// The longest retry delay accepted from the environment: a day.
        public static let maxBackoff: Double = 86_400

        /// Defaults, overridden by `SDFARM_BACKOFF_BASE` / `SDFARM_BACKOFF_MAX` (seconds) when set.
        public static var fromEnvironment: Options {
            var o = Options()
            let env = ProcessInfo.processInfo.environment
            // Values outside 0…maxBackoff are ignored: SQL interval arithmetic must never overflow.
            if let v = env["SDFARM_BACKOFF_BASE"].flatMap(Double.init), (0...maxBackoff).contains(v) {
                o.backoffBase = v; o.sameWorkerGrace = min(o.sameWorkerGrace, v)
            }
            if let v = env["SDFARM_BACKOFF_MAX"].flatMap(Double.init), (0...maxBackoff).contains(v) { o.backoffMax = v }
            return o
        }
    }

    public let db: PostgresConnection
    public let options: Options
    let logger: Logger

    public init(_ db: PostgresConnection, options: Options = .fromEnvironment, logger: Logger) {
        self.db = db
        self.options = options
        self.logger = logger
    }

    /// A JSON array for a `jsonb` parameter.
    static func jsonArray(_ values: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(values), as: UTF8.self)
    }
}
