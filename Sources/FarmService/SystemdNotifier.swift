public import Farm
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd about the worker over `$NOTIFY_SOCKET` (the sd_notify(3) datagram protocol, done here in a few
/// lines rather than linking libsystemd): `READY=1` once connected to PostgreSQL with the models loaded, `STATUS=`
/// with the current job and step, `WATCHDOG=1` every half `WatchdogSec=` for as long as the worker makes progress
/// (`WorkerHealth.isAlive`: a stalled render stops the petting and systemd restarts the unit), `EXTEND_TIMEOUT_USEC=`
/// while the last job finishes after a stop request, and `STOPPING=1`.
/// Without `NOTIFY_SOCKET` (not started by systemd with `Type=notify`) `make` returns nil and nothing is sent.
// reason: `fd` and `address` are written once in init; the watchdog thread's state is behind `NSLockedState`.
public final class SystemdNotifier: WorkerObserver, @unchecked Sendable {
    private let fd: Int32
    private var address: sockaddr_un
    private let addressLength: socklen_t
    private let health: WorkerHealth
    /// How long systemd is asked to wait, each time, while a job finishes on stop (seconds).
    public let stopExtension: Double
    private let lastStatus = NSLockedState("")
    private let lastExtension = NSLockedState(ContinuousClock.now - .seconds(3600))
    private let stopped = NSLockedState(false)

    /// A notifier for the service manager named by `NOTIFY_SOCKET`, nil when there is none.
    /// - Parameters:
    ///   - health: decides whether the watchdog is petted.
    ///   - stopExtension: seconds asked for at a time while finishing the last job on stop.
    /// - Throws: `ServiceError` when `NOTIFY_SOCKET` is set but unusable.
    public static func make(health: WorkerHealth, stopExtension: Double = 120,
                            environment: [String: String]? = nil) throws -> SystemdNotifier? {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        let watchdog = environment["WATCHDOG_USEC"].flatMap(UInt64.init).flatMap { usec -> Double? in
            // WATCHDOG_PID, when set, must be ours (systemd sets it for the main process).
            if let pid = environment["WATCHDOG_PID"].flatMap(Int32.init), pid != getpid() { return nil }
            return Double(usec) / 1_000_000
        }
        return try SystemdNotifier(socketPath: path, health: health, watchdogInterval: watchdog, stopExtension: stopExtension)
    }

    init(socketPath: String, health: WorkerHealth, watchdogInterval: Double?, stopExtension: Double) throws {
        guard socketPath.hasPrefix("/") || socketPath.hasPrefix("@") else {
            throw ServiceError("NOTIFY_SOCKET \(socketPath): only Unix socket paths (/…) and abstract names (@…) are supported")
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(socketPath.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw ServiceError("NOTIFY_SOCKET \(socketPath): path longer than \(capacity - 1) bytes") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in raw.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ServiceError("NOTIFY_SOCKET \(socketPath): socket: \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.address = addr
        self.addressLength = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        self.health = health
        self.stopExtension = stopExtension
        if let interval = watchdogInterval, interval > 0 {
            let thread = Thread { [self] in watchdogLoop(every: interval / 2) }
            thread.name = "sdfarm-watchdog"
            thread.start()
        }
    }

    deinit { close(fd) }

    /// Sends one notification (`KEY=VALUE` lines) without ever blocking the worker (a manager that does not read its
    /// socket loses notifications, it never stalls a render). Failures are ignored, as sd_notify's callers do.
    public func send(_ message: String) {
        var addr = address
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &addr) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), sa, addressLength) }
            }
        }
    }

    private func status(_ text: String) {
        let changed = lastStatus.write { last -> Bool in
            if last == text { return false }
            last = text
            return true
        }
        if changed { send("STATUS=\(text)") }
    }

    private func watchdogLoop(every seconds: Double) {
        while !stopped.read({ $0 }) {
            if health.isAlive { send("WATCHDOG=1") }
            Thread.sleep(forTimeInterval: seconds)
        }
    }

    public func workerReady(name: String) {
        send("READY=1\nSTATUS=idle: waiting for jobs (worker \(name))\nMAINPID=\(getpid())")
        lastStatus.write { $0 = "" }
    }

    public func workerIdle() {
        if health.current.stopRequests == 0 { status("idle: waiting for jobs") }
    }

    public func jobStarted(_ job: ClaimedJob, queueWait: Double?) {
        status("job \(job.id) attempt \(job.attempt): step 0/\(job.parameters.steps)")
    }

    public func jobProgress(_ job: ClaimedJob, step: Int, total: Int) {
        let stopping = health.current.stopRequests > 0
        status("job \(job.id) attempt \(job.attempt): step \(step)/\(total)\(stopping ? " (stopping after this job)" : "")")
        if stopping { extendStop() }
    }

    public func jobFinished(_ job: ClaimedJob, outcome: AttemptOutcome, seconds: Double) {
        status("job \(job.id) \(outcome) after \(Int(seconds.rounded())) s")
    }

    public func stopRequested(count: Int, busy: Bool) {
        send(busy ? "STOPPING=1\nSTATUS=stopping: finishing the current job" : "STOPPING=1\nSTATUS=stopping")
        if busy { extendStop() }
    }

    public func workerStopped() {
        stopped.write { $0 = true }
        send("STOPPING=1\nSTATUS=stopped")
    }

    /// Asks systemd for `stopExtension` more seconds before it sends SIGKILL (`EXTEND_TIMEOUT_USEC`); each step of the
    /// last job renews it (at most once a second), so a job that progresses is never killed and one that hangs is.
    private func extendStop() {
        let due = lastExtension.write { last -> Bool in
            guard ContinuousClock.now - last >= .seconds(1) else { return false }
            last = .now
            return true
        }
        guard due else { return }
        send("EXTEND_TIMEOUT_USEC=\(UInt64(stopExtension * 1_000_000))")
    }
}
