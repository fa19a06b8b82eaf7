import Foundation
import Testing
import Diffusion
import TestSupport

/// Tokenizer fixtures from tools/fixtures/make_fixtures.py (transformers 5.24.0, tokenizers 0.23.3 `CLIPTokenizer`); all 86 cases identical.
@Suite struct CLIPTokenizerTests {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let length: Int
        let ids_pad0: [Int]
    }
    struct Cases: Decodable { let cases: [Case] }

    static func cases() throws -> [Case] {
        let cases = try Fixtures.decode(Cases.self, "tokenizer/cases.json").cases
        try #require(!cases.isEmpty, "tokenizer/cases.json lists no cases")
        return cases
    }
    static let vocabFolder = RepositoryPaths.weights.appendingPathComponent("clip").path
    static let sd2Folder = Fixtures.path("models/tiny-sd-b/tokenizer")

    @Test("vocab.json and merges.txt give the reference ids and counts for every case")
    func vocabAndMergesGiveTheReferenceIdsAndCountsForEveryCase() throws {
        let tokenizer = try CLIPTokenizer.load(directory: Self.vocabFolder)
        #expect(tokenizer.bosTokenID == 49406 && tokenizer.eosTokenID == 49407 && tokenizer.padTokenID == 49407)
        var failures: [String] = []
        for c in try Self.cases() {
            let result = tokenizer.tokenize(c.text)
            if result.ids != c.ids || result.tokenCount != c.length {
                failures.append("\(c.text.debugDescription): got \(result.ids.prefix(12)) count \(result.tokenCount), want \(c.ids.prefix(12)) count \(c.length)")
            }
            #expect(result.truncatedTokens == max(0, c.length - 77))
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.joined(separator: "\n"))")
    }

    @Test("tokenizer.json with '!' padding gives the reference ids for every case")
    func tokenizerJSONWithExclamationPaddingGivesTheReferenceIdsForEveryCase() throws {
        let tokenizer = try CLIPTokenizer.load(directory: Self.sd2Folder)
        #expect(tokenizer.padTokenID == 0)
        var failures: [String] = []
        for c in try Self.cases() where tokenizer.tokenize(c.text).ids != c.ids_pad0 {
            failures.append("\(c.text.debugDescription): got \(tokenizer.tokenize(c.text).ids.prefix(12)), want \(c.ids_pad0.prefix(12))")
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.joined(separator: "\n"))")
    }

    @Test("a model folder is accepted through its tokenizer subfolder")
    func aModelFolderIsAcceptedThroughItsTokenizerSubfolder() throws {
        let tokenizer = try CLIPTokenizer.load(directory: Fixtures.path("models/tiny-sd-b"))
        #expect(tokenizer.padTokenID == 0)
    }

    @Test("a folder without tokenizer files gives a clear error")
    func aFolderWithoutTokenizerFilesGivesAClearError() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        do {
            _ = try CLIPTokenizer.load(directory: folder.url.path)
            Issue.record("expected an error")
        } catch let error as TokenizerError {
            #expect(error.code == .missingFiles)
            #expect(error.description.contains("vocab.json") && error.description.contains("tokenizer.json"))
        }
        do {
            _ = try CLIPTokenizer.load(directory: folder.path("absent"))
            Issue.record("expected an error")
        } catch let error as TokenizerError {
            #expect(error.code == .missingFiles)
        }
    }

    @Test("5,000 random Unicode strings tokenize without crashing to valid ids")
    func fiveThousandRandomUnicodeStringsTokenizeWithoutCrashingToValidIds() throws {
        let tokenizer = try CLIPTokenizer.load(directory: Self.vocabFolder)
        var rng = SplitMix64(seed: 77)
        let ranges: [ClosedRange<UInt32>] = [0x20...0x7E, 0x00...0x1F, 0xA0...0x24F, 0x300...0x36F, 0x370...0x52F, 0x600...0x6FF,
                                             0x900...0x97F, 0x2000...0x206F, 0x3040...0x30FF, 0x4E00...0x9FFF, 0xAC00...0xD7A3,
                                             0xFB00...0xFB4F, 0x1F300...0x1FAFF, 0xE000...0xF8FF, 0x10000...0x10FFFF]
        for _ in 0..<5_000 {
            let length = Int.random(in: 0..<60, using: &rng)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length {
                let range = ranges.randomElement(using: &rng)!
                if let s = Unicode.Scalar(UInt32.random(in: range, using: &rng)) { scalars.append(s) }
                if Int.random(in: 0..<10, using: &rng) == 0 { scalars.append(contentsOf: ["<|endoftext|>", " ", "'s", "\t", "\u{00A0}"].randomElement(using: &rng)!.unicodeScalars) }
            }
            let result = tokenizer.tokenize(String(scalars))
            #expect(result.ids.count == 77)
            #expect(result.ids.first == 49406)
            #expect(result.ids.allSatisfy { (0..<49408).contains($0) })
            #expect(result.ids.contains(49407))
        }
    }

    @Test("long prompts are truncated to 77 tokens ending in EOS")
    func longPromptsAreTruncatedToSeventySevenEndingInEOS() throws {
        let tokenizer = try CLIPTokenizer.load(directory: Self.vocabFolder)
        let result = tokenizer.tokenize(String(repeating: "word ", count: 100))
        #expect(result.ids.count == 77 && result.ids.last == 49407)
        #expect(result.tokenCount == 102 && result.truncatedTokens == 25)
        #expect(tokenizer.tokenize("a cat", maxLength: 5).ids.count == 5)
    }

    // MARK: - BPE against the textbook loop, and its cost on hostile prompts

    /// The BPE loop the tokenizer ran before it used a heap (O(n²) on a long word), kept here as the
    /// reference: byte-level symbols, `</w>` on the last, then per round merge every non-overlapping
    /// occurrence of the lowest-ranked adjacent pair, left to right (openai/CLIP simple_tokenizer.py `bpe`).
    struct ReferenceBPE {
        let ranks: [String: Int]
        let vocabulary: [String: Int]
        let unknownID: Int

        init(merges: [(String, String)], vocabulary: [String: Int], unknownID: Int = 49407) {
            var ranks: [String: Int] = [:]
            for (rank, pair) in merges.enumerated() where ranks["\(pair.0) \(pair.1)"] == nil { ranks["\(pair.0) \(pair.1)"] = rank }
            self.ranks = ranks
            self.vocabulary = vocabulary
            self.unknownID = unknownID
        }

        /// GPT-2's byte → character table, written out again rather than taken from the library.
        static let byteCharacters: [String] = {
            var table: [String] = []
            var next: UInt32 = 256
            for byte in UInt32(0)..<256 {
                let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
                table.append(String(Unicode.Scalar(printable ? byte : next)!))
                if !printable { next += 1 }
            }
            return table
        }()

        func ids(of word: String) -> [Int] {
            var symbols = word.utf8.map { Self.byteCharacters[Int($0)] }
            guard !symbols.isEmpty else { return [] }
            symbols[symbols.count - 1] += "</w>"
            while symbols.count > 1 {
                var best: (rank: Int, left: String, right: String)?
                for k in 0..<(symbols.count - 1) {
                    if let rank = ranks["\(symbols[k]) \(symbols[k + 1])"], rank < (best?.rank ?? Int.max) {
                        best = (rank, symbols[k], symbols[k + 1])
                    }
                }
                guard let best else { break }
                var merged: [String] = []
                var k = 0
                while k < symbols.count {
                    if k + 1 < symbols.count, symbols[k] == best.left, symbols[k + 1] == best.right {
                        merged.append(best.left + best.right)
                        k += 2
                    } else {
                        merged.append(symbols[k])
                        k += 1
                    }
                }
                symbols = merged
            }
            return symbols.map { vocabulary[$0] ?? unknownID }
        }
    }

    static func clipMerges() throws -> [(String, String)] {
        let text = try String(contentsOfFile: vocabFolder + "/merges.txt", encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#version") }.compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    /// Lower-case letters that one pre-token keeps as they are (NFC, lowercase, `\p{L}`).
    static func stableLetters(in vocabulary: [String: Int]) -> [Character] {
        var letters = Set<Character>()
        for token in vocabulary.keys {
            for scalar in token.replacingOccurrences(of: "</w>", with: "").unicodeScalars
            where scalar.properties.generalCategory == .lowercaseLetter && scalar.properties.lowercaseMapping == String(scalar)
                && String(scalar).precomposedStringWithCanonicalMapping == String(scalar) {
                letters.insert(Character(scalar))
            }
        }
        return letters.sorted()
    }

    @Test("the heap BPE gives the textbook loop's ids for random and repetitive words")
    func heapBPEGivesTheTextbookLoopsIdsForRandomAndRepetitiveWords() throws {
        let tokenizer = try CLIPTokenizer.load(directory: Self.vocabFolder)
        let reference = ReferenceBPE(merges: try Self.clipMerges(), vocabulary: tokenizer.vocabulary)
        let letters = Self.stableLetters(in: tokenizer.vocabulary)
        try #require(letters.count > 26 && letters.contains("a") && letters.contains("é"))
        var rng = SplitMix64(seed: 2026)
        var words: [String] = []
        for _ in 0..<3_000 {
            // Mostly small alphabets, so pairs repeat; sometimes the whole set, non-ASCII included.
            let alphabet = Int.random(in: 0..<4, using: &rng) == 0 ? letters
                : (0..<Int.random(in: 1...4, using: &rng)).map { _ in Int.random(in: 0..<3, using: &rng) == 0 ? letters.randomElement(using: &rng)! : "abcdefghijklmnopqrstuvwxyz".randomElement(using: &rng)! }
            words.append(String((0..<Int.random(in: 1...48, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        for unit in ["a", "ab", "aab", "abc", "ss", "é", "aé", "the", "ing"] {
            for count in [1, 2, 3, 4, 5, 7, 8, 16, 33, 64, 129, 300] { words.append(String(repeating: unit, count: count)) }
        }
        var failures: [String] = []
        for word in words where tokenizer.encode(word) != reference.ids(of: word) {
            failures.append("\(word.debugDescription): got \(tokenizer.encode(word).prefix(12)), want \(reference.ids(of: word).prefix(12))")
        }
        #expect(failures.isEmpty, "\(failures.count) of \(words.count) words differ:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    /// Random merge tables over a three-letter alphabet, with duplicate pairs and merges listed before
    /// the merges that create their parts, so the equal-rank and round semantics are all exercised.
    @Test("the heap BPE gives the textbook loop's ids for random merge tables", arguments: UInt64(1)...UInt64(40))
    func heapBPEGivesTheTextbookLoopsIdsForRandomMergeTables(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var pool = ["a", "b", "c", "a</w>", "b</w>", "c</w>"]
        var merges: [(String, String)] = []
        for _ in 0..<Int.random(in: 1...60, using: &rng) {
            let left = pool.filter { !$0.hasSuffix("</w>") }.randomElement(using: &rng)!
            let right = pool.randomElement(using: &rng)!
            merges.append((left, right))
            if !pool.contains(left + right) { pool.append(left + right) }
        }
        merges.shuffle(using: &rng)
        merges.insert(contentsOf: merges.prefix(3), at: Int.random(in: 0...merges.count, using: &rng))
        var vocabulary = ["<|startoftext|>": 1_000, "<|endoftext|>": 1_001]
        for (id, symbol) in pool.enumerated() where Int.random(in: 0..<8, using: &rng) != 0 { vocabulary[symbol] = id }
        let tokenizer = try CLIPTokenizer(vocabulary: vocabulary, merges: merges)
        let reference = ReferenceBPE(merges: merges, vocabulary: vocabulary, unknownID: 1_001)
        var failures: [String] = []
        for _ in 0..<100 {
            let word = String((0..<Int.random(in: 1...40, using: &rng)).map { _ in "abc".randomElement(using: &rng)! })
            let got = tokenizer.encode(word), want = reference.ids(of: word)
            if got != want { failures.append("\(word): got \(got), want \(want)") }
        }
        #expect(failures.isEmpty, "merges \(merges):\n\(failures.prefix(10).joined(separator: "\n"))")
    }

    /// Measured in release, serially (`--no-parallel`), on the shared 2-core build machine at load 6
    /// (2026-12-02): letters 0.14–0.17 s, mixed 0.19–0.23 s, "ab" × 50,000 0.11–0.12 s. The textbook
    /// loop took 30 s for the 100,000 letters (`sdfarm tokenize`, 30.2 s before, 0.41 s after, load included).
    @Test("a 100,000-character prompt tokenizes in under two seconds", arguments: ["letters", "mixed", "repetitive"])
    func aHundredThousandCharacterPromptTokenizesInUnderTwoSeconds(kind: String) throws {
        let tokenizer = try CLIPTokenizer.load(directory: Self.vocabFolder)
        var rng = SplitMix64(seed: 100_000)
        let pool: [Character] = switch kind {
        case "letters": Array("abcdefghijklmnopqrstuvwxyz")
        case "mixed": Array("abcdefghijklmnopqrstuvwxyzé中ß0123456789.,!?;:-()[]#@'") + ["😀", "🎨", "🚀", "🗻", "—"]
        default: []
        }
        let prompt = kind == "repetitive" ? String(repeating: "ab", count: 50_000)
            : String((0..<100_000).map { _ in pool.randomElement(using: &rng)! })
        #expect(prompt.count == 100_000)
        let clock = ContinuousClock()
        var result: TokenizedPrompt?
        let elapsed = clock.measure { result = tokenizer.tokenize(prompt) }
        let tokens = try #require(result)
        #expect(tokens.ids.count == 77 && tokens.ids.last == 49407 && tokens.tokenCount > 77)
        #expect(elapsed < .seconds(2), "\(kind): \(elapsed)")
    }
}
