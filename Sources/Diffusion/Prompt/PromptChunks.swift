/// A prompt as AUTOMATIC1111 feeds it to CLIP: 77-token chunks (`[BOS, 75 tokens, EOS]`) with a weight per token.
///
/// Matches stable-diffusion-webui `modules/sd_hijack_clip.py` `TextConditionalModel.tokenize_line` and
/// `process_tokens` (https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/master/modules/sd_hijack_clip.py):
/// each parsed run tokenized on its own (no BOS/EOS), tokens appended to the current chunk with the run's weight;
/// a full chunk (75) closes, except that when a comma lies within the last `commaBacktrack` (A1111's
/// `comma_padding_backtrack`, default 20) tokens, the tokens after it move to the next chunk; `BREAK` closes the
/// chunk; a chunk is padded to 75 with EOS, then wrapped in BOS … EOS with weight 1; with a pad token other than
/// EOS (SD 2.x) every position after the chunk's first EOS becomes the pad token.
public struct PromptChunks: Sendable, Equatable {
    /// Token ids, each chunk `chunkLength + 2` long.
    public var tokens: [[Int]]
    /// Weight per token, as A1111 hands them to torch (float32).
    public var multipliers: [[Float]]
    /// A1111's token count (75 per closed chunk, plus the last chunk's tokens).
    public var tokenCount: Int

    /// The chunks of a parsed prompt.
    public init(_ segments: [A1111PromptParser.Segment], tokenizer: CLIPTokenizer, chunkLength: Int = 75, commaBacktrack: Int = 20) {
        let comma = tokenizer.vocabulary[",</w>"]
        let start = tokenizer.bosTokenID, end = tokenizer.eosTokenID, pad = tokenizer.padTokenID
        var chunks: [[Int]] = [], weights: [[Double]] = []
        var chunk: [Int] = [], chunkWeights: [Double] = []
        var tokenCount = 0
        var lastComma = -1
        func nextChunk(isLast: Bool = false) {
            tokenCount += isLast ? chunk.count : chunkLength
            let add = chunkLength - chunk.count
            if add > 0 {
                chunk += Array(repeating: end, count: add)
                chunkWeights += Array(repeating: 1, count: add)
            }
            var ids = [start] + chunk + [end]
            if pad != end, let first = ids.firstIndex(of: end) {
                for p in (first + 1)..<ids.count { ids[p] = pad }
            }
            chunks.append(ids)
            weights.append([1] + chunkWeights + [1])
            lastComma = -1
            chunk = []
            chunkWeights = []
        }
        for segment in segments {
            if segment.isBreak {
                nextChunk()
                continue
            }
            for token in tokenizer.encode(segment.text) {
                if token == comma {
                    lastComma = chunk.count
                } else if commaBacktrack != 0, chunk.count == chunkLength, lastComma != -1, chunk.count - lastComma <= commaBacktrack {
                    let breakAt = lastComma + 1
                    let movedTokens = Array(chunk[breakAt...]), movedWeights = Array(chunkWeights[breakAt...])
                    chunk.removeSubrange(breakAt...)
                    chunkWeights.removeSubrange(breakAt...)
                    nextChunk()
                    chunk = movedTokens
                    chunkWeights = movedWeights
                }
                if chunk.count == chunkLength { nextChunk() }
                chunk.append(token)
                chunkWeights.append(segment.weight)
            }
        }
        if !chunk.isEmpty || chunks.isEmpty { nextChunk(isLast: true) }
        self.tokens = chunks
        self.multipliers = weights.map { $0.map { Float($0) } }
        self.tokenCount = tokenCount
    }
}
