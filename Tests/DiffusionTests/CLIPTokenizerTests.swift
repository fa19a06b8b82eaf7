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
}
