import Foundation
import Synchronization

/// CLIP's byte-level BPE tokenizer, giving the ids transformers' `CLIPTokenizer` (tokenizers backend) gives.
///
/// Matches transformers v5 `CLIPTokenizer` / tokenizers' CLIP pipeline (see REFERENCE.md §2;
/// https://github.com/huggingface/transformers/blob/main/src/transformers/models/clip/tokenization_clip.py,
/// https://github.com/openai/CLIP/blob/main/clip/simple_tokenizer.py):
/// normalise (NFC, collapse whitespace runs to one space, lowercase), split off the special tokens,
/// pre-tokenise with CLIP's pattern, map UTF-8 bytes to characters, apply BPE merges by rank with
/// `</w>` marking a word's end.
public final class CLIPTokenizer: Sendable {
    /// Token string → id.
    public let vocabulary: [String: Int]
    /// The ranked merges over interned symbols.
    private let merges: BytePairMerges
    /// Merge symbol id → token id (`<|endoftext|>` for a symbol the vocabulary lacks).
    private let symbolTokenIDs: [Int]
    public let padTokenID: Int
    public let bosTokenID: Int
    public let eosTokenID: Int
    /// Added tokens matched in the raw text (`normalized: false`), longest first, with their ids.
    private let rawSpecialTokens: [(text: [Unicode.Scalar], id: Int)]
    /// Added tokens matched in the normalised text (`normalized: true`), longest first, with their ids.
    private let normalizedSpecialTokens: [(text: [Unicode.Scalar], id: Int)]
    /// Whether the pre-tokeniser pattern starts with `<|startoftext|>`/`<|endoftext|>` as alternatives
    /// (tokenizer.json files spell that out; transformers 5's vocab + merges build has them too).
    private let patternKeepsSpecialTexts: Bool

    /// Pre-token → ids, for words of at most `maxCachedWordBytes` UTF-8 bytes; emptied when it
    /// reaches `maxCachedWords` entries.
    private let cache = Mutex<[String: [Int]]>([:])
    private static let maxCachedWords = 100_000
    private static let maxCachedWordBytes = 64

    /// A tokenizer from a vocabulary and ranked merges.
    /// - Parameters:
    ///   - vocabulary: token → id; must hold `<|startoftext|>` and `<|endoftext|>`.
    ///   - merges: merge pairs in rank order.
    ///   - padToken: the padding token (`<|endoftext|>` for SD 1.x, `!` for SD 2.x).
    ///   - addedTokens: the tokens split off before BPE, with their `normalized` flags, in registration
    ///     order (a later entry for the same text wins). Nil gives transformers' behaviour for SD
    ///     tokenizer_config files: BOS and EOS matched after normalisation, then the pad token matched
    ///     exactly (so with SD 1.x's pad `<|endoftext|>` only the exact lower-case EOS text is special).
    ///   - patternKeepsSpecialTexts: the pre-tokeniser pattern starts with the two special texts.
    public init(vocabulary: [String: Int], merges: [(String, String)], padToken: String = "<|endoftext|>",
                addedTokens: [AddedToken]? = nil, patternKeepsSpecialTexts: Bool = true, origin: String = "<memory>") throws {
        guard let bos = vocabulary["<|startoftext|>"], let eos = vocabulary["<|endoftext|>"] else {
            throw TokenizerError(.missingToken, path: origin, message: "the vocabulary lacks <|startoftext|> or <|endoftext|>; this is not a CLIP tokenizer")
        }
        guard let pad = vocabulary[padToken] else {
            throw TokenizerError(.missingToken, path: origin, message: "the pad token '\(padToken)' is not in the vocabulary; fix pad_token in tokenizer_config.json")
        }
        self.vocabulary = vocabulary
        let mergeTable = BytePairMerges(merges: merges)
        self.merges = mergeTable
        symbolTokenIDs = mergeTable.texts.map { vocabulary[$0] ?? eos }
        bosTokenID = bos
        eosTokenID = eos
        padTokenID = pad
        let added = addedTokens ?? [AddedToken("<|startoftext|>", normalized: true), AddedToken("<|endoftext|>", normalized: true),
                                    AddedToken(padToken, normalized: false)]
        var flags: [String: Bool] = [:]
        for token in added where !token.content.isEmpty && vocabulary[token.content] != nil { flags[token.content] = token.normalized }
        func table(_ normalized: Bool) -> [(text: [Unicode.Scalar], id: Int)] {
            flags.filter { $0.value == normalized }.map { (Array($0.key.unicodeScalars), vocabulary[$0.key]!) }
                .sorted { ($0.text.count, $0.id) > ($1.text.count, $1.id) }
        }
        rawSpecialTokens = table(false)
        normalizedSpecialTokens = table(true)
        self.patternKeepsSpecialTexts = patternKeepsSpecialTexts
    }

    /// BPE ids of `text`, without BOS and EOS.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for segment in Self.split(Array(text.unicodeScalars)[...], on: rawSpecialTokens) {
            switch segment {
            case .special(let id): ids.append(id)
            case .text(let raw):
                var view = String.UnicodeScalarView()
                view.append(contentsOf: raw)
                for piece in Self.split(Self.normalize(String(view))[...], on: normalizedSpecialTokens) {
                    switch piece {
                    case .special(let id): ids.append(id)
                    case .text(let normalized):
                        for word in Self.preTokenize(normalized, keepSpecialTexts: patternKeepsSpecialTexts) {
                            ids.append(contentsOf: bpeIDs(word))
                        }
                    }
                }
            }
        }
        return ids
    }

    /// `[BOS, ids…, EOS]` truncated to `maxLength` (the last kept id is EOS) and padded with the pad id.
    public func tokenize(_ text: String, maxLength: Int = 77) -> TokenizedPrompt {
        precondition(maxLength >= 2, "maxLength must leave room for BOS and EOS")
        let body = encode(text)
        var ids = [bosTokenID]
        ids.append(contentsOf: body.prefix(maxLength - 2))
        ids.append(eosTokenID)
        ids.append(contentsOf: repeatElement(padTokenID, count: maxLength - ids.count))
        return TokenizedPrompt(ids: ids, tokenCount: body.count + 2)
    }

    // MARK: - Normalisation and pre-tokenisation

    /// NFC, whitespace runs → one space, lowercase (per character, full mappings).
    static func normalize(_ text: String) -> [Unicode.Scalar] {
        let composed = text.precomposedStringWithCanonicalMapping
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(composed.unicodeScalars.count)
        var inSpace = false
        for scalar in composed.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            let lower = scalar.properties.lowercaseMapping
            if lower.unicodeScalars.count == 1, lower.unicodeScalars.first == scalar {
                out.append(scalar)
            } else {
                out.append(contentsOf: lower.unicodeScalars)
            }
        }
        return out
    }

    enum Segment: Equatable {
        case text(ArraySlice<Unicode.Scalar>)
        case special(Int)
    }

    /// Splits `tokens` out of `scalars` (leftmost match, longest first, exact).
    static func split(_ scalars: ArraySlice<Unicode.Scalar>, on tokens: [(text: [Unicode.Scalar], id: Int)]) -> [Segment] {
        guard !tokens.isEmpty else { return scalars.isEmpty ? [] : [.text(scalars)] }
        var segments: [Segment] = []
        var start = scalars.startIndex
        var i = scalars.startIndex
        outer: while i < scalars.endIndex {
            for token in tokens where scalars.endIndex - i >= token.text.count
                && scalars[i..<(i + token.text.count)].elementsEqual(token.text) {
                if start < i { segments.append(.text(scalars[start..<i])) }
                segments.append(.special(token.id))
                i += token.text.count
                start = i
                continue outer
            }
            i += 1
        }
        if start < scalars.endIndex { segments.append(.text(scalars[start..<scalars.endIndex])) }
        return segments
    }

    static let specialPieces: [[Unicode.Scalar]] = [Array("<|startoftext|>".unicodeScalars), Array("<|endoftext|>".unicodeScalars)]

    /// CLIP's pattern `[<\|startoftext\|>|<\|endoftext\|>|]'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`,
    /// matches kept, the rest (whitespace) dropped.
    static func preTokenize(_ scalars: ArraySlice<Unicode.Scalar>, keepSpecialTexts: Bool) -> [String] {
        var words: [String] = []
        var i = scalars.startIndex
        let end = scalars.endIndex
        func word(_ range: Range<Int>) -> String {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[range])
            return String(s)
        }
        while i < end {
            let c = scalars[i]
            if keepSpecialTexts, c == "<" {
                // The pattern's first alternatives keep a special token text as one piece; the ByteLevel
                // pre-tokeniser after it (use_regex, GPT-2's pattern) splits that piece again into `<|`, the
                // letters and `|>`, so what BPE sees differs from the plain pattern only in where the piece ends
                // (`<|startoftext|>>` gives `|>`, `>`; without the alternatives `|>>`).
                let piece = specialPieces.first { end - i >= $0.count && scalars[i..<(i + $0.count)].elementsEqual($0) }
                if let piece {
                    words.append(word(i..<(i + 2)))
                    words.append(word((i + 2)..<(i + piece.count - 2)))
                    words.append(word((i + piece.count - 2)..<(i + piece.count)))
                    i += piece.count
                    continue
                }
            }
            if c == "'" {
                let rest = scalars[(i + 1)..<min(end, i + 3)]
                var length = 0
                if let next = rest.first, "stmd".unicodeScalars.contains(next) { length = 2 }
                if rest.count == 2 {
                    let two = String(String.UnicodeScalarView(rest))
                    if two == "re" || two == "ve" || two == "ll" { length = 3 }
                }
                if length > 0 {
                    words.append(word(i..<(i + length)))
                    i += length
                    continue
                }
            }
            switch category(c) {
            case .letter:
                var j = i + 1
                while j < end, category(scalars[j]) == .letter { j += 1 }
                words.append(word(i..<j))
                i = j
            case .number:
                words.append(word(i..<(i + 1)))
                i += 1
            case .space:
                i += 1
            case .other:
                var j = i + 1
                while j < end, category(scalars[j]) == .other { j += 1 }
                words.append(word(i..<j))
                i = j
            }
        }
        return words
    }

    enum Category { case letter, number, space, other }

    /// `\p{L}`, `\p{N}`, `\s` (White_Space) or anything else.
    static func category(_ scalar: Unicode.Scalar) -> Category {
        if scalar.properties.isWhitespace { return .space }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    // MARK: - BPE

    /// Ids of one pre-token, cached when short.
    private func bpeIDs(_ word: String) -> [Int] {
        let cacheable = word.utf8.count <= Self.maxCachedWordBytes
        if cacheable {
            if let cached = cache.withLock({ $0[word] }) { return cached }
        }
        let ids = merges.apply(word.utf8).map { symbolTokenIDs[Int($0)] }
        if cacheable {
            cache.withLock { cache in
                if cache.count >= Self.maxCachedWords { cache.removeAll(keepingCapacity: true) }
                cache[word] = ids
            }
        }
        return ids
    }
}
