/// Thrown when the progress callback asks a render to stop.
public struct RenderCancelled: Error, CustomStringConvertible, Sendable {
    public let step: Int
    public init(step: Int) { self.step = step }
    public var description: String { "render cancelled at step \(step)" }
}
