public import Foundation

/// A child started by `ProcessRunner.start`: signal it, wait for it, stop it.
public final class RunningProcess {
    /// The child's process id.
    public let pid: pid_t
    /// The executable's path, for messages.
    public let executable: String
    private var termination: ProcessRunner.Termination?

    init(pid: pid_t, executable: String) {
        self.pid = pid
        self.executable = executable
    }

    /// True until the child has exited (and been reaped).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Sends `signal` to the child, unless it has already been reaped.
    public func send(_ signal: Int32) {
        if termination == nil { kill(pid, signal) }
    }

    /// Waits for the child to exit, killing it with SIGKILL once `timeout` seconds have passed.
    /// - Returns: how it ended.
    @discardableResult
    public func wait(timeout: TimeInterval = 30) -> ProcessRunner.Termination {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let termination = reap(blocking: false) { return termination }
            usleep(20_000)
        }
        if let termination = reap(blocking: false) { return termination }
        kill(pid, SIGKILL)
        return reap(blocking: true)!
    }

    /// Kills the child (continuing it first, in case it is stopped) and reaps it; harmless once it has exited.
    public func stop() {
        if isRunning {
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
        }
        _ = reap(blocking: true)
    }

    /// The child's termination, reaping it when it has exited; nil while it runs (`blocking` waits instead).
    private func reap(blocking: Bool) -> ProcessRunner.Termination? {
        if let termination { return termination }
        var raw: Int32 = 0
        while true {
            let result = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
            if result == pid {
                termination = ProcessRunner.Termination(waitStatus: raw)
                return termination
            }
            if result < 0 && errno == EINTR { continue }
            return nil
        }
    }
}
