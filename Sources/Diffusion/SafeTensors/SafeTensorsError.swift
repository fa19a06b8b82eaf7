/// A safetensors file could not be read, parsed or written.
///
/// Carries the file, the tensor involved (when there is one) and a message that says what was wrong
/// and what to do about it.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable {
    /// What went wrong; an extensible set of `static let`s.
    public struct Code: DiffusionErrorCode {
        public let name: String
        public init(_ name: String) { self.name = name }

        /// The file does not exist.
        public static let fileNotFound = Code("file not found")
        /// The file exists but cannot be opened, mapped or read (permissions, a directory, I/O).
        public static let unreadable = Code("unreadable")
        /// The file is shorter than the 8-byte header length prefix.
        public static let tooShort = Code("too short")
        /// The header length prefix points past the end of the file.
        public static let headerBeyondFile = Code("header beyond file")
        /// The header length prefix is larger than the 100 MB safetensors allows.
        public static let headerTooLarge = Code("header too large")
        /// The header is not valid UTF-8 JSON.
        public static let invalidJSON = Code("invalid JSON")
        /// The header is valid JSON but not an object of tensor entries.
        public static let headerNotObject = Code("header not an object")
        /// A tensor entry is not an object or lacks `dtype`, `shape` or `data_offsets`.
        public static let missingField = Code("missing field")
        /// A tensor entry names a dtype this reader does not know.
        public static let unknownDType = Code("unknown dtype")
        /// A shape is not a list of non-negative integers, or its element count overflows.
        public static let invalidShape = Code("invalid shape")
        /// `data_offsets` is not two integers, is reversed, or lies outside the data section.
        public static let invalidOffsets = Code("invalid offsets")
        /// The byte length does not equal element count × dtype size.
        public static let sizeMismatch = Code("size mismatch")
        /// Two tensors share bytes.
        public static let overlappingTensors = Code("overlapping tensors")
        /// `__metadata__` is not an object of strings.
        public static let invalidMetadata = Code("invalid metadata")
        /// The file is a pickle (`.ckpt`, `.pt`, `.pth`, `.bin`), which is refused.
        public static let pickleCheckpoint = Code("pickle checkpoint")
        /// The asked-for tensor is not in the file.
        public static let missingTensor = Code("missing tensor")
        /// The file could not be written.
        public static let writeFailed = Code("write failed")
    }

    public let code: Code
    /// The file (`file`) and, when there is one, the tensor (`item`) involved.
    public let context: ErrorContext
    /// What was wrong and what to do.
    public let message: String
    /// The error that caused this one (a JSON parse error, a file-system error), when there is one.
    public let underlying: (any Error)?

    public init(_ code: Code, context: ErrorContext, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.context = context
        self.message = message
        self.underlying = underlying
    }

    /// An error about the file `path` and, when given, its tensor `tensor`.
    public init(_ code: Code, path: String, tensor: String? = nil, message: String, underlying: (any Error)? = nil) {
        self.init(code, context: ErrorContext(file: path, item: tensor), message: message, underlying: underlying)
    }

    public var description: String {
        let what = context.item.map { "tensor '\($0)': " } ?? ""
        return "\(context.file ?? "?"): \(what)\(message)"
    }
}
