import Foundation
import Testing
import TestSupport

/// What the deployment tests share: the repository's deploy/ folder, the tools scripts/setup-ops installs (Debian's
/// systemd-analyze, kubectl, podman; the PyPI validators in .cache/ops-venv), and running them.
enum DeployTools {
    static var deploy: URL { RepositoryPaths.root.appendingPathComponent("deploy") }
    static var venvBin: URL { RepositoryPaths.root.appendingPathComponent(".cache/ops-venv/bin") }

    /// The path of `name` on PATH (or in the validators' venv), nil when it is not installed.
    static func tool(_ name: String) -> String? {
        let dirs = [venvBin.path] + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs tool `name` (which must be installed: scripts/setup-ops) and captures its output.
    static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 600,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessRunner.Result {
        let path = try #require(tool(name), "\(name) is not installed: run scripts/setup-ops", sourceLocation: sourceLocation)
        return try ProcessRunner.run(URL(fileURLWithPath: path), arguments, environment: environment, timeout: timeout)
    }
}
