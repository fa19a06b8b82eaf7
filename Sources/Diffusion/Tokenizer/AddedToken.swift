/// A token split off the text before BPE (tokenizers' `AddedToken`): matched in the raw text, or —
/// when `normalized` — in the text after NFC, whitespace collapsing and lower-casing.
public struct AddedToken: Sendable, Hashable {
    public let content: String
    public let normalized: Bool

    public init(_ content: String, normalized: Bool) {
        self.content = content
        self.normalized = normalized
    }
}
