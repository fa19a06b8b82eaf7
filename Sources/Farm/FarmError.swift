/// A farm operation could not be done: a missing batch or job, a stored job that does not decode, a
/// migration problem, a file, the renderer. (Bad user input is `RenderFormatError`; the database's own
/// failures are `PostgresError`.)
public struct FarmError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure: `invalidInput` (a value is malformed or out of range), `notFound` (no such batch or
    /// job), `undecodableJob` (a stored row that is not a typed job), `migration`, `io` (a file), `renderer`.
    public enum Code: String, Sendable, CustomStringConvertible {
        case invalidInput = "invalid input", notFound = "not found", undecodableJob = "undecodable job", migration, io = "i/o", renderer
        public var description: String { rawValue }
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
