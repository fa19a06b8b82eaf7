/// The life cycle of a job; the `jobs.state` column is constrained to these names.
public enum JobState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case queued, running, succeeded, failed, cancelled

    public var description: String { rawValue }

    /// No further work happens to a job in this state unless someone retries it.
    public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}
