/// A PNG could not be read or written.
public struct PNGError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let encode = Code(name: "encode")
        public static let decode = Code(name: "decode")
        public static let write = Code(name: "write")
        public static let read = Code(name: "read")
        public static let notPNG = Code(name: "not a PNG")
        /// The file, a side or the pixel count is over `PNGCodec.Limits`; refused before decoding.
        public static let tooLarge = Code(name: "too large")
        /// The `IHDR` chunk is truncated, not first, fails its CRC, or holds values PNG does not allow.
        public static let invalidHeader = Code(name: "invalid header")
    }

    public let code: Code
    /// The file involved, if any.
    public let path: String?
    /// libpng's or the system's message.
    public let reason: String

    public init(code: Code, path: String?, reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    public var description: String {
        switch code {
        case .write: "cannot write PNG \(path ?? "<memory>"): \(reason). Check that the directory exists and is writable."
        case .read: "cannot read PNG \(path ?? "<memory>"): \(reason)"
        case .notPNG: "\(path ?? "<memory>") is not a PNG file: \(reason)"
        case .tooLarge: "PNG \(path ?? "<memory>") is too large to decode: \(reason). Downscale or re-export it."
        case .invalidHeader: "PNG \(path ?? "<memory>") has an invalid header: \(reason)"
        default: "PNG \(code) failed for \(path ?? "<memory>"): \(reason)"
        }
    }
}
