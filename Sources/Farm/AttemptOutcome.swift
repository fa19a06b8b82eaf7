/// How one attempt at a job ended; the `job_attempts.outcome` column is constrained to these names.
public enum AttemptOutcome: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Still rendering.
    case running
    case succeeded
    /// The job's own problem; counted against its attempts.
    case failed
    /// Stopped because someone cancelled the job.
    case cancelled
    /// Given back without counting (the worker shut down).
    case released
    /// The lease expired before the worker finished (it died, stalled or lost the network).
    case lost

    public var description: String { rawValue }
}
