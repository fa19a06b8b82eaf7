/// A render parameter, a `parameters` text or a file named by one is not usable.
///
/// Shaped as postgres-nio shapes its errors: an extensible `Code`, the input it is about, a message that
/// says what is wrong and what is allowed, and the underlying error when there is one. Messages never name
/// a command-line flag: the executables (and the HTTP API) translate `input` into their own spelling.
public struct RenderFormatError: Error, CustomStringConvertible, Sendable {
    /// `invalidParameter`: a value is malformed or out of its documented range; `unreadableParameters`: an
    /// A1111 `parameters` text does not parse; `unreadableFile`: a file (a model to hash) cannot be read.
    public enum Code: String, Sendable, CustomStringConvertible {
        case invalidParameter = "invalid parameter", unreadableParameters = "unreadable parameters text", unreadableFile = "unreadable file"
        public var description: String { rawValue }
    }

    public let code: Code
    /// The input the error is about, for `invalidParameter`.
    public let input: RenderInput?
    /// Where the value came from (a file path), when not an input.
    public let context: String?
    /// What is wrong, with the offending value and what is allowed. For `invalidParameter` it is a phrase
    /// that follows the input's name: "must be between 1 and 1000, got 0".
    public let message: String
    public let underlying: (any Error)?

    public init(_ code: Code, input: RenderInput? = nil, context: String? = nil, _ message: String,
                underlying: (any Error)? = nil) {
        self.code = code
        self.input = input
        self.context = context
        self.message = message
        self.underlying = underlying
    }

    /// An out-of-range or malformed value of `input`.
    public static func invalid(_ input: RenderInput, _ message: String) -> RenderFormatError {
        RenderFormatError(.invalidParameter, input: input, message)
    }

    public var description: String {
        if let input { return "\(input.rawValue) \(message)" }
        if let context { return "\(context): \(message)" }
        return message
    }
}

/// The inputs of a render or a submission, by their snake-case names (the HTTP API's field names).
public enum RenderInput: String, Sendable, CaseIterable {
    case model, prompt, prompts, negativePrompt = "negative_prompt", seed, seeds, steps, sampler, samplers
    case cfgScale = "cfg_scale", width, height, size, sizes, initImage = "init_image", strength, strengths
    case interpolate, frames, interpolationPosition = "interpolation_t", priority, maxAttempts = "max_attempts", name
    case promptSyntax = "prompt_syntax", lora, loraDirectory = "lora_dir"
}
