/// A model file could not be hashed.
public struct GenerationParametersError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
