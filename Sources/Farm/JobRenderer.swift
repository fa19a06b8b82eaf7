/// Renders one job. The farm knows nothing of tensors: the Stable Diffusion pipeline is wired in by the
/// executables behind this protocol; `TestPatternRenderer` is the stand-in for tests and benchmarks.
public protocol JobRenderer: AnyObject {
    /// Renders one job to PNG bytes (with metadata). `progress(step, total)` is called after every step;
    /// it returns false when the job was cancelled, and the renderer then throws `RenderCancelled`.
    func render(_ parameters: RenderParameters, progress: (Int, Int) -> Bool) throws -> [UInt8]
}

/// Thrown by a renderer whose progress callback returned false.
public struct RenderCancelled: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "render cancelled" }
}

/// A render failure that will not go away on retry (bad model file, unsupported parameters): the job
/// fails at once instead of retrying.
public struct PermanentRenderError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
