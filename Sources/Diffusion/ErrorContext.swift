/// What a Diffusion error is about: the file or folder (or another origin such as `render`) and the
/// item inside it — a tensor name, a config key or the offending value.
///
/// Part of every `DiffusionError` (`ModelError`, `SafeTensorsError`, `SchedulerError`).
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
