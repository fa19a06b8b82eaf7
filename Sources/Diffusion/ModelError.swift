/// A model could not be loaded or run with the given files or parameters.
public typealias ModelError = DiffusionError<ModelErrorCode>

/// What went wrong with a model; an extensible set of `static let`s.
public struct ModelErrorCode: DiffusionErrorCode {
    public let name: String
    public init(_ name: String) { self.name = name }

    /// A tensor the model needs is not in the weights.
    public static let missingTensor = Self("missing tensor")
    /// A tensor's shape does not match the model's config.
    public static let wrongShape = Self("wrong shape")
    /// A config file's value is missing, of the wrong type or inconsistent.
    public static let badConfig = Self("bad config")
    /// A file or folder the model needs is missing.
    public static let missingFile = Self("missing file")
    /// The architecture or a variant of it is not implemented.
    public static let unsupported = Self("unsupported")
    /// A render parameter is out of range.
    public static let badParameter = Self("bad parameter")
    /// A render produced NaN or infinity (the same parameters always will).
    public static let nonFinite = Self("non-finite result")

    public static func describe(_ error: ModelError) -> String {
        let origin = error.context.file ?? "?", tensor = error.context.item, message = error.message
        return switch error.code {
        case .missingTensor: "\(origin): tensor '\(tensor ?? "?")' is missing (\(message)); the file is incomplete or not a Stable Diffusion checkpoint of this architecture"
        case .wrongShape: "\(origin): tensor '\(tensor ?? "?")' \(message); the weights do not match the model's config"
        case .badConfig: "\(origin): \(tensor.map { "'\($0)': " } ?? "")\(message)"
        case .badParameter: message
        default: "\(origin): \(message)"
        }
    }
}

extension DiffusionError where Domain == ModelErrorCode {
    /// An error about `origin` (a file, folder or `render`) and, when given, the tensor or config key `tensor`.
    public init(code: Code, origin: String, tensor: String? = nil, message: String, underlying: (any Error)? = nil) {
        self.init(code, context: ErrorContext(file: origin, item: tensor), message: message, underlying: underlying)
    }
}
