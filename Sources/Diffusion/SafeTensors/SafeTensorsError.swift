/// A safetensors file could not be read, parsed or written.
///
/// Carries the file, the tensor involved (when there is one) and a message that says what was wrong
/// and what to do about it.
public typealias SafeTensorsError = DiffusionError<SafeTensorsErrorCode>

/// What went wrong with a safetensors file; an extensible set of `static let`s.
public struct SafeTensorsErrorCode: DiffusionErrorCode {
    public let name: String
    public init(_ name: String) { self.name = name }

    /// The file does not exist.
    public static let fileNotFound = Self("file not found")
    /// The file exists but cannot be opened, mapped or read (permissions, a directory, I/O).
    public static let unreadable = Self("unreadable")
    /// The file is shorter than the 8-byte header length prefix.
    public static let tooShort = Self("too short")
    /// The header length prefix points past the end of the file.
    public static let headerBeyondFile = Self("header beyond file")
    /// The header length prefix is larger than the 100 MB safetensors allows.
    public static let headerTooLarge = Self("header too large")
    /// The header is not valid UTF-8 JSON.
    public static let invalidJSON = Self("invalid JSON")
    /// The header is valid JSON but not an object of tensor entries.
    public static let headerNotObject = Self("header not an object")
    /// A tensor entry is not an object or lacks `dtype`, `shape` or `data_offsets`.
    public static let missingField = Self("missing field")
    /// A tensor entry names a dtype this reader does not know.
    public static let unknownDType = Self("unknown dtype")
    /// A shape is not a list of non-negative integers, or its element count overflows.
    public static let invalidShape = Self("invalid shape")
    /// `data_offsets` is not two integers, is reversed, or lies outside the data section.
    public static let invalidOffsets = Self("invalid offsets")
    /// The byte length does not equal element count × dtype size.
    public static let sizeMismatch = Self("size mismatch")
    /// Two tensors share bytes.
    public static let overlappingTensors = Self("overlapping tensors")
    /// `__metadata__` is not an object of strings.
    public static let invalidMetadata = Self("invalid metadata")
    /// The file is a pickle (`.ckpt`, `.pt`, `.pth`, `.bin`), which is refused.
    public static let pickleCheckpoint = Self("pickle checkpoint")
    /// The asked-for tensor is not in the file.
    public static let missingTensor = Self("missing tensor")
    /// The file could not be written.
    public static let writeFailed = Self("write failed")

    /// `path: tensor 'name': message`.
    public static func describe(_ error: SafeTensorsError) -> String {
        let what = error.context.item.map { "tensor '\($0)': " } ?? ""
        return "\(error.context.file ?? "?"): \(what)\(error.message)"
    }
}

extension DiffusionError where Domain == SafeTensorsErrorCode {
    /// An error about the file `path` and, when given, its tensor `tensor`.
    public init(_ code: Code, path: String, tensor: String? = nil, message: String, underlying: (any Error)? = nil) {
        self.init(code, context: ErrorContext(file: path, item: tensor), message: message, underlying: underlying)
    }
}
