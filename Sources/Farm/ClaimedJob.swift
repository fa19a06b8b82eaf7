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

    /// `<storage>/<batch>/<job>.png`.
    public func outputPath(storage: String) -> String {
        let root = storage.hasSuffix("/") ? String(storage.dropLast()) : storage
        return "\(root)/\(batchID)/\(id).png"
    }
}
