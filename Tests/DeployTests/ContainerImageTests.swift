import Farm
import Foundation
import Logging
import Testing
import TestSupport

/// The offline-built image for real: deploy/container/build-offline makes it from Debian packages and this build's
/// executables, podman runs `sdfarm migrate`, `sdfarm submit` and a worker from it against the test PostgreSQL (host
/// network), the worker gets SIGTERM in the middle of a demo-model job, and the job must finish (or be given back),
/// never be lost. Needs root and podman (CI has both, scripts/setup-ops installs podman).
@Suite("container image", .serialized)
struct ContainerImageTests {
    static var enabled: Bool {
        getuid() == 0 && DeployTools.tool("podman") != nil && DeployTools.tool("mmdebstrap") != nil
            && ProcessInfo.processInfo.environment["DATABASE_URL"] != nil
    }

    /// What this machine's container runtime needs: runc (crun refuses hybrid cgroup hierarchies) and the ulimits the
    /// sandbox lets a container set.
    static let podmanRuntime = ["--runtime", "runc"]
    static let runLimits = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "--network", "host"]

    static func podman(_ arguments: [String], timeout: TimeInterval = 300) throws -> ProcessRunner.Result {
        try DeployTools.run("podman", podmanRuntime + arguments, timeout: timeout)
    }

    @Test("the offline-built image migrates, submits and renders a demo-model job, and SIGTERM mid-job finishes it",
          .enabled(if: enabled), .timeLimit(.minutes(15)))
    func offlineImageRendersAndStopsGracefully() throws {
        let tag = "localhost/sdfarm:test-\(getpid())"
        let build = try ProcessRunner.run(DeployTools.deploy.appendingPathComponent("container/build-offline"),
                                          ["--binaries", RepositoryPaths.binDirectory.path, "--tag", tag], timeout: 900)
        try #require(build.status == 0, "build-offline: \(build.stdout)\(build.stderr)")
        print(build.stdout.split(separator: "\n").last ?? "")
        defer { _ = try? Self.podman(["rmi", "-f", tag]) }

        let base = try #require(ProcessInfo.processInfo.environment["DATABASE_URL"])
        let name = "sdfarm_ctr_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PostgresConnection(url: base)
        try admin.execute(script: "CREATE DATABASE \(name)")
        defer { _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"); admin.close() }
        var components = try #require(URLComponents(string: base))
        components.path = "/" + name
        let url = components.string!

        let storage = try ScratchDirectory(prefix: "sdfarm-ctr-storage")
        defer { storage.remove() }
        try #require(chown(storage.path, 10001, 10001) == 0)
        let model = RepositoryPaths.weights.appendingPathComponent("sdfarm-shapes").path
        let mounts = ["-v", "\(storage.path):/srv/sdfarm/storage", "-v", "\(model):/srv/sdfarm/models/sdfarm-shapes:ro"]
        let env = ["-e", "DATABASE_URL=\(url)"]

        let migrate = try Self.podman(["run", "--rm"] + Self.runLimits + env + [tag, "sdfarm", "migrate"])
        try #require(migrate.status == 0, "migrate in the image: \(migrate.stdout)\(migrate.stderr)")
        // 600 steps (~14 s on two cores) so SIGTERM at step 5 lands mid-job (150 took 8.7 s once the kernels got faster).
        let submit = try Self.podman(["run", "--rm"] + Self.runLimits + env + mounts + [tag, "sdfarm", "submit",
            "--model", "/srv/sdfarm/models/sdfarm-shapes", "--prompt", "a red circle on a white background", "--seeds", "7",
            "--steps", "600", "--size", "64x64", "--json"])
        try #require(submit.status == 0, "submit in the image: \(submit.stdout)\(submit.stderr)")

        let container = "sdfarm-worker-\(getpid())"
        let start = try Self.podman(["run", "-d", "--name", container] + Self.runLimits + env + mounts + ["-e", "SDFARM_LOG_LEVEL=info", tag,
            "sdfarm-worker", "--storage", "/srv/sdfarm/storage", "--models-root", "/srv/sdfarm/models", "--name", "container-worker",
            "--lease", "3", "--exit-when-idle"])   // heartbeats (and so the step the test waits for) every second
        try #require(start.status == 0, "worker container: \(start.stderr)")
        defer { _ = try? Self.podman(["rm", "-f", container]) }

        let queue = JobQueue(try PostgresConnection(url: url), logger: .init(label: "ctr-test"))
        defer { queue.db.close() }
        let job = try #require(try queue.jobs(batch: nil).first)
        let deadline = Date().addingTimeInterval(300)
        var step = 0
        while Date() < deadline {
            step = try queue.job(job.id).progress.step
            if step >= 5 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        try #require(step >= 5, "the job never reached step 5 in the container: \((try? Self.podman(["logs", container]))?.stderr ?? "")")
        // `podman stop` sends the image's STOPSIGNAL (SIGTERM) and waits up to --time seconds before SIGKILL.
        let stop = try Self.podman(["stop", "--time", "240", container], timeout: 300)
        #expect(stop.status == 0, "\(stop.stderr)")
        let logs = try Self.podman(["logs", container])
        let log = logs.stdout + logs.stderr
        print("worker container log:\n\(log)")
        let state = try Self.podman(["inspect", "--format", "{{.State.ExitCode}}", container])
        #expect(state.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "exit code \(state.stdout)")
        #expect(log.contains("stop requested"))

        let final = try queue.job(job.id)
        #expect(final.state == .succeeded || final.state == .queued, "the job is \(final.state) after SIGTERM")
        if final.state == .succeeded {
            #expect(log.contains("job succeeded"))
            let output = try #require(final.outputPath)
            let hostPath = output.replacingOccurrences(of: "/srv/sdfarm/storage", with: storage.path)
            let attributes = try FileManager.default.attributesOfItem(atPath: hostPath)
            let mode = try #require(attributes[.posixPermissions] as? Int)
            #expect(mode & 0o007 == 0, "the output is world-accessible: \(String(mode, radix: 8))")
            #expect((attributes[.ownerAccountID] as? Int) == 10001, "written by the image's unprivileged user")
        }
    }
}
