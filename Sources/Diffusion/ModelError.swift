/// A model could not be loaded or run with the given files or parameters.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let missingTensor = Code(name: "missing tensor")
        public static let wrongShape = Code(name: "wrong shape")
        public static let badConfig = Code(name: "bad config")
        public static let missingFile = Code(name: "missing file")
        public static let unsupported = Code(name: "unsupported")
        public static let badParameter = Code(name: "bad parameter")
    }

    public let code: Code
    /// The file or folder involved.
    public let origin: String
    /// The tensor or config key involved.
    public let tensor: String?
    public let message: String

    public init(code: Code, origin: String, tensor: String? = nil, message: String) {
        self.code = code
        self.origin = origin
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        switch code {
        case .missingTensor: "\(origin): tensor '\(tensor ?? "?")' is missing (\(message)); the file is incomplete or not a Stable Diffusion checkpoint of this architecture"
        case .wrongShape: "\(origin): tensor '\(tensor ?? "?")' \(message); the weights do not match the model's config"
        case .badConfig: "\(origin): \(tensor.map { "'\($0)': " } ?? "")\(message)"
        case .badParameter: message
        default: "\(origin): \(message)"
        }
    }
}
