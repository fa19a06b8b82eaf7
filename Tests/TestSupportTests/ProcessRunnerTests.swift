import Foundation
import TestSupport
import Testing

@Suite("ProcessRunner")
struct ProcessRunnerTests {
    static let shell = URL(fileURLWithPath: "/bin/sh")

    @Test("a child writing megabytes to stderr before stdout finishes, and both streams are captured whole")
    func largeOutputOnBothStreams() throws {
        // 3 MiB to stderr first: a runner that read stdout to EOF before stderr would block on the full stderr pipe.
        let script = "head -c 3145728 /dev/zero | tr '\\000' e >&2; head -c 2097152 /dev/zero | tr '\\000' o; echo done >&2"
        let result = try ProcessRunner.run(Self.shell, ["-c", script], timeout: 60)
        #expect(!result.timedOut)
        #expect(result.status == 0 && result.signal == nil, "\(result.termination)")
        #expect(result.stderrData.count == 3_145_728 + 5)
        let stderrTail = String(decoding: result.stderrData.suffix(9), as: UTF8.self)
        #expect(stderrTail == "eeeedone\n")
        let allE = result.stderrData.dropLast(5).allSatisfy { $0 == UInt8(ascii: "e") }
        #expect(allE)
        #expect(result.stdoutData.count == 2_097_152)
        let allO = result.stdoutData.allSatisfy { $0 == UInt8(ascii: "o") }
        #expect(allO)
    }

    @Test("a child that outlives its timeout is killed with SIGKILL and reported as timed out")
    func timeoutKillsASleepingChild() throws {
        let start = Date()
        let result = try ProcessRunner.run(Self.shell, ["-c", "echo started; exec sleep 30"], timeout: 0.5)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(result.timedOut)
        #expect(result.signal == SIGKILL && result.status == 128 + SIGKILL)
        #expect(result.stdout == "started\n")
    }

    @Test("stdin is fed to the child, the environment is added to, and the exit status comes back")
    func stdinEnvironmentAndStatus() throws {
        let input = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0) })
        let echo = try ProcessRunner.run(Self.shell, ["-c", "cat; echo \"$SDFARM_RUNNER_TEST\" >&2; exit 3"],
                                         environment: ["SDFARM_RUNNER_TEST": "added"], stdin: input)
        #expect(echo.stdoutData == input)
        #expect(echo.stderr == "added\n")
        #expect(echo.status == 3 && echo.termination.exited)
        let killed = try ProcessRunner.run(Self.shell, ["-c", "kill -TERM $$"])
        #expect(killed.signal == SIGTERM && !killed.timedOut)
        #expect(throws: ProcessRunner.SpawnError.self) { _ = try ProcessRunner.run(URL(fileURLWithPath: "/no/such/program")) }
    }

    @Test("a started child can be signalled and waited for, and its stderr goes to the file asked for")
    func backgroundChild() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let log = scratch.url("child.log")
        let child = try ProcessRunner.start(Self.shell, ["-c", "echo ready >&2; exec sleep 30"], stderr: .file(log))
        defer { child.stop() }
        #expect(child.isRunning)
        let deadline = Date().addingTimeInterval(10)
        while (try? String(contentsOf: log, encoding: .utf8)) != "ready\n" && Date() < deadline { usleep(10_000) }
        #expect(try String(contentsOf: log, encoding: .utf8) == "ready\n")
        child.send(SIGTERM)
        #expect(child.wait(timeout: 10).signal == SIGTERM)
        #expect(!child.isRunning)
        let stubborn = try ProcessRunner.start(Self.shell, ["-c", "trap '' TERM; exec sleep 30"])
        #expect(stubborn.wait(timeout: 0.3).signal == SIGKILL)
    }

    @Test("a scratch directory exists until it is removed, and the repository root holds Package.swift")
    func scratchAndPaths() throws {
        let scratch = try ScratchDirectory(prefix: "sdfarm-scratch-test")
        #expect(FileManager.default.createFile(atPath: scratch.path("a.txt"), contents: Data("a".utf8)))
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: scratch.path, isDirectory: &isDirectory) && isDirectory.boolValue)
        scratch.remove()
        #expect(!FileManager.default.fileExists(atPath: scratch.path))
        #expect(FileManager.default.fileExists(atPath: RepositoryPaths.root.appendingPathComponent("Package.swift").path))
        #expect(FileManager.default.fileExists(atPath: RepositoryPaths.fixtures.appendingPathComponent("README.md").path))
    }
}
