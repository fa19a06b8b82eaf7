/// Thrown by a render whose progress callback asked it to stop; the engine and the farm share this one type.
public struct RenderCancelled: Error, CustomStringConvertible, Sendable, Equatable {
    /// The last step that completed.
    public let step: Int
    public init(step: Int) { self.step = step }
    public var description: String { "render cancelled at step \(step)" }
}
