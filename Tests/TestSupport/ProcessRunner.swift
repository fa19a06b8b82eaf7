public import Foundation

/// Runs child processes for the tests: the package's executables, `pg_ctl`, `ip`, shells.
///
/// `run` waits for the child and captures stdout and stderr, reading both pipes as data arrives (one
/// `poll(2)` loop), so a child that fills one pipe while the other is still open never blocks; `start`
/// leaves the child running, its output going to a file or `/dev/null`. Children are spawned with
/// `posix_spawn` and reaped with `waitpid` for their own pid, so a grandchild that daemonises (as
/// `pg_ctl start` does) cannot hide the child's exit; they start with default signal dispositions, an
/// empty signal mask and stdin on `/dev/null` unless given input.
public enum ProcessRunner {
    /// How a child ended.
    public struct Termination: Sendable, Equatable, CustomStringConvertible {
        /// The exit status, or 128 + the signal number when a signal ended the child (as a shell reports it).
        public let status: Int32
        /// The signal that ended the child, if one did.
        public let signal: Int32?

        /// Decodes a `waitpid` status.
        init(waitStatus raw: Int32) {
            let signal = raw & 0x7F
            if signal == 0 {
                status = (raw >> 8) & 0xFF
                self.signal = nil
            } else {
                status = 128 + signal
                self.signal = signal
            }
        }

        /// True when the child called `exit` (with any status) rather than being killed.
        public var exited: Bool { signal == nil }

        public var description: String { signal.map { "killed by signal \($0)" } ?? "exit status \(status)" }
    }

    /// A finished child: how it ended and everything it wrote.
    public struct Result: Sendable {
        /// How the child ended.
        public let termination: Termination
        /// True when the child outlived its timeout and was killed with SIGKILL.
        public let timedOut: Bool
        /// The bytes the child wrote to stdout.
        public let stdoutData: Data
        /// The bytes the child wrote to stderr.
        public let stderrData: Data

        /// The exit status (128 + signal when killed); see `Termination.status`.
        public var status: Int32 { termination.status }
        /// The signal that ended the child, if one did.
        public var signal: Int32? { termination.signal }
        /// stdout as UTF-8 (invalid bytes replaced).
        public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
        /// stderr as UTF-8 (invalid bytes replaced).
        public var stderr: String { String(decoding: stderrData, as: UTF8.self) }
    }

    /// Where a started child's stdout or stderr goes.
    public enum Destination: Sendable {
        /// `/dev/null`.
        case discard
        /// The test process's own stream.
        case inherit
        /// Appended to a file, created when absent.
        case file(URL)
    }

    /// A child that could not be started.
    public struct SpawnError: Error, CustomStringConvertible {
        /// The executable's path.
        public let executable: String
        /// The `errno` value `posix_spawn` or `pipe2` returned.
        public let code: Int32

        public var description: String { "cannot start \(executable): \(String(cString: strerror(code))) (errno \(code))" }
    }

    /// How long `run` keeps reading pipes after the child has exited, for a grandchild that still holds them.
    static let drainGrace: TimeInterval = 2

    /// Runs `executable` and waits for it, capturing stdout and stderr.
    /// - Parameters:
    ///   - executable: an absolute path, or a bare name looked up on `PATH`.
    ///   - arguments: the arguments after the program name.
    ///   - environment: variables added to (or replacing those of) the test process's environment.
    ///   - stdin: bytes written to the child's stdin, which is then closed; `/dev/null` when nil.
    ///   - timeout: seconds after which the child is killed with SIGKILL (`Result.timedOut` is then true).
    /// - Throws: `SpawnError` when the child cannot be started.
    public static func run(_ executable: URL, _ arguments: [String] = [], environment: [String: String] = [:],
                           stdin: Data? = nil, timeout: TimeInterval = 600) throws -> Result {
        // A child that stops reading its stdin must not take the test process down with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        spawnLock.lock()
        let output: (read: Int32, write: Int32), errors: (read: Int32, write: Int32), input: (read: Int32, write: Int32)?
        do {
            output = try makePipe(executable.path)
            errors = try makePipe(executable.path)
            input = try stdin.map { _ in try makePipe(executable.path) }
        } catch {
            spawnLock.unlock()
            throw error
        }
        let pid: pid_t
        do {
            defer { spawnLock.unlock() }
            pid = try spawn(executable.path, arguments, environment: environment,
                            stdin: input.map { .descriptor($0.read) } ?? .discard,
                            stdout: .descriptor(output.write), stderr: .descriptor(errors.write))
        } catch {
            for fd in [output.read, output.write, errors.read, errors.write, input?.read, input?.write].compactMap({ $0 }) { close(fd) }
            throw error
        }
        close(output.write)
        close(errors.write)
        if let input {
            close(input.read)
            _ = fcntl(input.write, F_SETFL, fcntl(input.write, F_GETFL) | O_NONBLOCK)
        }

        var captured: [Int32: Data] = [output.read: Data(), errors.read: Data()]
        var reading = [output.read, errors.read]
        var writing = input?.write
        let pending = stdin ?? Data()
        var written = 0
        if pending.isEmpty, let fd = writing { close(fd); writing = nil }
        let deadline = Date().addingTimeInterval(timeout)
        var termination: Termination?, exitTime: Date?, timedOut = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)

        while true {
            if termination == nil {
                var raw: Int32 = 0
                let reaped = waitpid(pid, &raw, WNOHANG)
                if reaped == pid {
                    termination = Termination(waitStatus: raw)
                } else if Date() >= deadline {
                    kill(pid, SIGKILL)
                    timedOut = true
                    while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
                    termination = Termination(waitStatus: raw)
                }
                if termination != nil {
                    exitTime = Date()
                    if let fd = writing { close(fd); writing = nil }
                }
            }
            if let exitTime, reading.isEmpty || Date().timeIntervalSince(exitTime) > drainGrace { break }

            var fds = reading.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if let fd = writing { fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
            if fds.isEmpty {
                usleep(10_000)
                continue
            }
            guard poll(&fds, nfds_t(fds.count), 10) > 0 else { continue }
            for entry in fds where entry.revents != 0 {
                if entry.fd == writing {
                    let n = pending.withUnsafeBytes { bytes in
                        write(entry.fd, bytes.baseAddress! + written, min(bytes.count - written, 1 << 16))
                    }
                    if n > 0 { written += n }
                    if (n < 0 && errno != EAGAIN && errno != EINTR) || written == pending.count {
                        close(entry.fd)
                        writing = nil
                    }
                    continue
                }
                let n = read(entry.fd, &buffer, buffer.count)
                if n > 0 {
                    captured[entry.fd]!.append(contentsOf: buffer[0..<n])
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    close(entry.fd)
                    reading.removeAll { $0 == entry.fd }
                }
            }
        }
        for fd in reading { close(fd) }
        if let fd = writing { close(fd) }
        return Result(termination: termination!, timedOut: timedOut,
                      stdoutData: captured[output.read]!, stderrData: captured[errors.read]!)
    }

    /// Runs one of the package's built executables (`sdfarm`, `sdfarm-worker`) and waits for it.
    /// - Parameters: as for `run`, with the product `name` looked up in `RepositoryPaths.binDirectory`.
    /// - Throws: `SpawnError` when the child cannot be started.
    public static func runBuilt(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                                stdin: Data? = nil, timeout: TimeInterval = 600) throws -> Result {
        try run(RepositoryPaths.executable(name), arguments, environment: environment, stdin: stdin, timeout: timeout)
    }

    /// Starts `executable` and returns without waiting; see `RunningProcess` for signalling and waiting.
    /// - Parameters:
    ///   - executable: an absolute path, or a bare name looked up on `PATH`.
    ///   - arguments: the arguments after the program name.
    ///   - environment: variables added to (or replacing those of) the test process's environment.
    ///   - stdout: where the child's stdout goes.
    ///   - stderr: where the child's stderr goes.
    /// - Throws: `SpawnError` when the child cannot be started.
    public static func start(_ executable: URL, _ arguments: [String] = [], environment: [String: String] = [:],
                             stdout: Destination = .discard, stderr: Destination = .discard) throws -> RunningProcess {
        func target(_ destination: Destination) -> ChildStream {
            switch destination {
            case .discard: .discard
            case .inherit: .inherit
            case .file(let url): .file(url.path)
            }
        }
        spawnLock.lock()
        defer { spawnLock.unlock() }
        let pid = try spawn(executable.path, arguments, environment: environment, stdin: .discard,
                            stdout: target(stdout), stderr: target(stderr))
        return RunningProcess(pid: pid, executable: executable.path)
    }

    /// What one of a child's standard streams is connected to.
    enum ChildStream {
        case discard, inherit
        case descriptor(Int32)
        case file(String)
    }

    /// Held from creating a child's pipes until it is spawned, so that no other child spawned here inherits
    /// them before they are marked close-on-exec (`pipe2` is not visible from Swift on Glibc).
    static let spawnLock = NSLock()

    /// A pipe whose ends are closed on exec, so that no other child inherits them and holds them open.
    /// Called with `spawnLock` held.
    static func makePipe(_ executable: String) throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(executable: executable, code: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// `posix_spawn` with the given streams, default signal handling and the merged environment.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
                      stdin: ChildStream, stdout: ChildStream, stderr: ChildStream) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .inherit: break
            case .discard: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, fd)
            case .file(let path): posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = executable.contains("/")
            ? posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            : posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnError(executable: executable, code: result) }
        return pid
    }
}
