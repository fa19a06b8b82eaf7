/// An error of the Diffusion library, in postgres-nio's `PSQLError` shape: an extensible `code`, the
/// `context` it is about (file and tensor/key), a `message` saying what is wrong and what to do, and
/// the `underlying` error where there is one.
///
/// One struct for every domain, told apart by the code type: `ModelError`, `SafeTensorsError` and
/// `SchedulerError` are `DiffusionError<ModelErrorCode>`, `<SafeTensorsErrorCode>` and
/// `<SchedulerErrorCode>`, so `catch let error as ModelError` still catches only model errors.
public struct DiffusionError<Domain: DiffusionErrorCode>: Error, CustomStringConvertible, Sendable {
    /// The code type, e.g. `ModelError.Code` (= `ModelErrorCode`).
    public typealias Code = Domain

    /// What went wrong.
    public let code: Code
    /// The file (`file`) and the tensor, config key or value (`item`) involved.
    public let context: ErrorContext
    /// What was wrong and what to do.
    public let message: String
    /// The error that caused this one (a file-system, JSON or decoding error), when there is one.
    public let underlying: (any Error)?

    public init(_ code: Code, context: ErrorContext, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.context = context
        self.message = message
        self.underlying = underlying
    }

    /// The text a user sees; each code type decides its layout (by default `file: item: message`).
    public var description: String { Code.describe(self) }
}

/// The code of a `DiffusionError`: a name, extensible with `static let`s, and the error's layout.
public protocol DiffusionErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The code's name, e.g. `missing tensor`.
    var name: String { get }
    /// The user-facing text of an error with this code type.
    static func describe(_ error: DiffusionError<Self>) -> String
}

extension DiffusionErrorCode {
    public var description: String { name }

    /// `context: message`, or just the message without context.
    public static func describe(_ error: DiffusionError<Self>) -> String {
        let location = error.context.description
        return location.isEmpty ? error.message : "\(location): \(error.message)"
    }
}
