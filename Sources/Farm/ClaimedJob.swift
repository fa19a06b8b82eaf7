/// A job a worker holds: its parameters and the lease that fences its completion.
public struct ClaimedJob: Sendable, Equatable {
    public let id: Int64
    public let batchID: Int64
    public let parameters: RenderParameters
    /// 1 for the first try.
    public let attempt: Int
    public let maxAttempts: Int
    /// The lease: only the holder of this owner + token may heartbeat, complete or fail the job.
    public let lease: Lease

    public struct Lease: Sendable, Equatable {
        public let owner: String
        public let token: String
    }

    /// This attempt's own file, `<storage>/<batch>/<job>-<lease token prefix>.png`: every attempt writes under
    /// its own name, and only the fenced completion publishes one (as `jobs.output_path`), so a late attempt
    /// that lost its lease can never replace the accepted bytes.
    public func outputPath(storage: String) -> String {
        "\(Self.batchDirectory(storage: storage, batch: batchID))/\(Self.filePrefix(job: id))\(lease.token.prefix(8)).png"
    }

    /// `<storage>/<batch>`.
    public static func batchDirectory(storage: String, batch: Int64) -> String {
        let root = storage.hasSuffix("/") ? String(storage.dropLast()) : storage
        return "\(root)/\(batch)"
    }

    /// The start of every attempt file name of job `job`: `<job>-`.
    public static func filePrefix(job: Int64) -> String { "\(job)-" }
}
