/// The ids of one prompt for the text encoder: `[BOS, tokens…, EOS]`, truncated and padded.
public struct TokenizedPrompt: Sendable, Equatable {
    /// Exactly `maxLength` ids.
    public let ids: [Int]
    /// Tokens the prompt needs including BOS and EOS, before truncation.
    public let tokenCount: Int

    public init(ids: [Int], tokenCount: Int) {
        self.ids = ids
        self.tokenCount = tokenCount
    }

    /// How many tokens were cut off to fit (0 when the prompt fits).
    public var truncatedTokens: Int { max(0, tokenCount - ids.count) }
}
