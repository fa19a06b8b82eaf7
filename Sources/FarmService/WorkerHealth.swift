public import Farm
import Foundation

/// Whether a worker is ready (connected, registered, models loaded, not stopping) and alive (its loop made progress
/// — a denoise step, a claim, an idle wait — within `stallAfter` seconds), and what it is doing. Read by the
/// `/readyz` and `/livez` endpoints and by the systemd watchdog, which stops petting a worker that stalls.
public final class WorkerHealth: WorkerObserver {
    public struct State: Sendable, Equatable {
        public var ready = false
        public var stopRequests = 0
        public var job: Int64?
        public var step = 0, total = 0
        public var lastSign = ContinuousClock.now
    }

    /// Seconds without progress after which the worker is reported not alive.
    public let stallAfter: Double
    private let state = NSLockedState(State())

    public init(stallAfter: Double = 300) { self.stallAfter = stallAfter }

    public var current: State { state.read { $0 } }

    public var isReady: Bool { state.read { $0.ready && $0.stopRequests == 0 } }

    /// Before `workerReady` (connecting, loading models) the worker counts as alive: a start-up probe covers that.
    public var isAlive: Bool {
        state.read { s in
            let since = ContinuousClock.now - s.lastSign
            return !s.ready || Double(since.components.seconds) < stallAfter
        }
    }

    private func sign(_ change: (inout State) -> Void = { _ in }) {
        state.write { s in s.lastSign = .now; change(&s) }
    }

    public func workerReady(name: String) { sign { $0.ready = true } }
    public func workerIdle() { sign { $0.job = nil } }
    public func jobStarted(_ job: ClaimedJob, queueWait: Double?) { sign { $0.job = job.id; $0.step = 0; $0.total = job.parameters.steps } }
    public func jobProgress(_ job: ClaimedJob, step: Int, total: Int) { sign { $0.step = step; $0.total = total } }
    public func jobFinished(_ job: ClaimedJob, outcome: AttemptOutcome, seconds: Double) { sign { $0.job = nil } }
    public func jobGivenBack(_ job: ClaimedJob, reason: String) { sign { $0.job = nil } }
    public func stopRequested(count: Int, busy: Bool) { state.write { $0.stopRequests = count } }
    public func workerStopped() { state.write { $0.ready = false; $0.job = nil } }
}

/// A value behind a lock.
// reason: `value` is only touched while holding `lock`.
final class NSLockedState<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func read<R>(_ body: (Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(value) }
    func write<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
}
