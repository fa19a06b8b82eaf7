/// A tokenizer could not be loaded from its files.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    /// What went wrong; an extensible set of `static let`s.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Neither `vocab.json` + `merges.txt` nor `tokenizer.json` is in the folder.
        public static let missingFiles = Code("missing files")
        /// A file exists but cannot be read.
        public static let unreadable = Code("unreadable")
        /// A file's contents are not what a CLIP BPE tokenizer needs.
        public static let invalidFormat = Code("invalid format")
        /// A token the pipeline needs (BOS, EOS, pad) is not in the vocabulary.
        public static let missingToken = Code("missing token")
    }

    public let code: Code
    /// The file or folder involved.
    public let path: String
    /// What was wrong and what to do.
    public let message: String

    public init(_ code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
