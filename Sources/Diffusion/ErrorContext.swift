/// What a Diffusion error is about: the file or folder (or another origin such as `render`) and the
/// item inside it — a tensor name, a config key or the offending value.
///
/// Shared by `ModelError`, `SafeTensorsError` and `SchedulerError`, which follow postgres-nio's
/// `PSQLError` shape: an extensible `Code`, this context, a message saying what is wrong and what to
/// do, and the underlying error where there is one.
public struct ErrorContext: Hashable, Sendable, CustomStringConvertible {
    /// The file, folder or other origin involved.
    public var file: String?
    /// The tensor, config key or value involved.
    public var item: String?

    public init(file: String? = nil, item: String? = nil) {
        self.file = file
        self.item = item
    }

    /// `file: item`, either part left out when absent.
    public var description: String { [file, item].compactMap { $0 }.joined(separator: ": ") }
}

/// The boilerplate of a Diffusion error code: a name, shown as the description.
public protocol DiffusionErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The code's name, e.g. `missing tensor`.
    var name: String { get }
}

extension DiffusionErrorCode {
    public var description: String { name }
}
