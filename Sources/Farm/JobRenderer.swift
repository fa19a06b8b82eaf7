public import RenderFormat

/// Renders one job. The farm knows nothing of tensors: the Stable Diffusion renderer lives in the seam
/// (`FarmDiffusion.DiffusionJobRenderer`); `TestPatternRenderer` is the stand-in for tests and benchmarks.
public protocol JobRenderer: AnyObject {
    /// Renders one job to PNG bytes (with metadata). `progress(step, total)` is called after every step;
    /// it returns false when the job must stop, and the renderer then throws `RenderCancelled`.
    func render(_ parameters: RenderParameters, progress: (Int, Int) -> Bool) throws -> [UInt8]

    /// Checks at start that the renderer can serve `models` (nil: whatever jobs name).
    /// - Throws: a permanent `WorkerFault` naming what this host lacks.
    func prepare(models: [String]?) throws
}

/// A render failure that will not go away on retry (bad model file, unsupported parameters): the job
/// fails at once instead of retrying.
public struct PermanentRenderError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let underlying: (any Error)?
    public init(_ message: String, underlying: (any Error)? = nil) {
        self.message = message
        self.underlying = underlying
    }
    public var description: String { message }
}

extension JobRenderer {
    /// Checks at start that the renderer can serve `models` (nil: any); the default checks nothing.
    public func prepare(models: [String]?) throws {}
}

/// The worker's own host cannot do the work right now — a model or the CLIP vocabulary missing on this host,
/// storage unwritable or full — so the job is given back untouched (no attempt used) and the worker is marked
/// unhealthy and backs off; `permanent` faults (found at start) make the worker refuse to run.
public struct WorkerFault: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public let permanent: Bool
    public let underlying: (any Error)?

    public init(_ reason: String, permanent: Bool = false, underlying: (any Error)? = nil) {
        self.reason = reason
        self.permanent = permanent
        self.underlying = underlying
    }

    public var description: String { "this worker's host cannot render: \(reason)" }
}
