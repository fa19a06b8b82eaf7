/// A model could not be loaded or run with the given files or parameters.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    /// What went wrong; an extensible set of `static let`s.
    public struct Code: DiffusionErrorCode {
        public let name: String
        public init(_ name: String) { self.name = name }

        /// A tensor the model needs is not in the weights.
        public static let missingTensor = Code("missing tensor")
        /// A tensor's shape does not match the model's config.
        public static let wrongShape = Code("wrong shape")
        /// A config file's value is missing, of the wrong type or inconsistent.
        public static let badConfig = Code("bad config")
        /// A file or folder the model needs is missing.
        public static let missingFile = Code("missing file")
        /// The architecture or a variant of it is not implemented.
        public static let unsupported = Code("unsupported")
        /// A render parameter is out of range.
        public static let badParameter = Code("bad parameter")
    }

    public let code: Code
    /// The file or folder (`file`) and the tensor or config key (`item`) involved.
    public let context: ErrorContext
    /// What was wrong and what to do.
    public let message: String
    /// The error that caused this one (a JSON decoding error, a safetensors error), when there is one.
    public let underlying: (any Error)?

    public init(_ code: Code, context: ErrorContext, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.context = context
        self.message = message
        self.underlying = underlying
    }

    /// An error about `origin` (a file, folder or `render`) and, when given, the tensor or config key `tensor`.
    public init(code: Code, origin: String, tensor: String? = nil, message: String, underlying: (any Error)? = nil) {
        self.init(code, context: ErrorContext(file: origin, item: tensor), message: message, underlying: underlying)
    }

    public var description: String {
        let origin = context.file ?? "?"
        let tensor = context.item
        return switch code {
        case .missingTensor: "\(origin): tensor '\(tensor ?? "?")' is missing (\(message)); the file is incomplete or not a Stable Diffusion checkpoint of this architecture"
        case .wrongShape: "\(origin): tensor '\(tensor ?? "?")' \(message); the weights do not match the model's config"
        case .badConfig: "\(origin): \(tensor.map { "'\($0)': " } ?? "")\(message)"
        case .badParameter: message
        default: "\(origin): \(message)"
        }
    }
}
