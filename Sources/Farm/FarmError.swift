/// A farm operation could not be done: a missing batch or job, a stored job that does not decode, a
/// migration problem, a file, the renderer. (Bad user input is `RenderFormatError`; the database's own
/// failures are `PostgresError`.)
public struct FarmError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure, extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// A value is malformed or out of range.
        public static let invalidInput = Code(name: "invalid input")
        /// A batch or job id that does not exist.
        public static let notFound = Code(name: "not found")
        /// A stored job row that cannot be decoded into a typed job.
        public static let undecodableJob = Code(name: "undecodable job")
        /// Migrations are missing or inconsistent.
        public static let migration = Code(name: "migration")
        /// A file could not be read or written.
        public static let io = Code(name: "i/o")
        /// The renderer is not available.
        public static let renderer = Code(name: "renderer")
    }

    public let code: Code
    /// The complete, user-facing message: what was wrong, the offending value, what to do.
    public let message: String
    /// The error this one wraps, kept rather than flattened.
    public let underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
