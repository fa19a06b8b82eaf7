import Dispatch
public import Farm
import Foundation
public import Logging
import Synchronization

/// A few PostgreSQL connections for the server, each owned by its own serial dispatch queue (a thread at a time):
/// the farm's libpq wrapper blocks and is not thread-safe, so queries never run on the NIO event loops and a
/// connection is never used by two threads at once. A connection that fails is dropped and reopened on next use.
public final class DatabasePool: Sendable {
    private final class Slot: @unchecked Sendable {
        // reason: `queue` is only touched on `thread`, a serial dispatch queue.
        let thread: DispatchQueue
        var queue: JobQueue?
        init(_ i: Int) { thread = DispatchQueue(label: "sdfarm.serve.db.\(i)") }
    }

    private let slots: [Slot]
    private let next = Mutex(0)
    private let url: String?
    private let logger: Logger

    /// - Parameters:
    ///   - url: the connection string (nil: `DATABASE_URL`, then the `PG*` variables).
    ///   - size: connections (and threads) in the pool.
    public init(url: String?, size: Int = 4, logger: Logger) {
        self.url = url
        self.logger = logger
        slots = (0..<max(1, size)).map(Slot.init)
    }

    /// Runs `body` with a queue on one of the pool's threads and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable (JobQueue) throws -> T) async throws -> T {
        let slot = next.withLock { n in
            defer { n = (n + 1) % slots.count }
            return slots[n]
        }
        let url = self.url, logger = self.logger
        return try await withCheckedThrowingContinuation { continuation in
            slot.thread.async {
                do {
                    if slot.queue == nil || slot.queue?.db.isOpen == false {
                        slot.queue = JobQueue(try PostgresConnection(url: PostgresConnection.withNetworkTimeouts(url)), logger: logger)
                    }
                    continuation.resume(returning: try body(slot.queue!))
                } catch {
                    if let e = error as? PostgresError, e.code == .connection { slot.queue = nil }
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
