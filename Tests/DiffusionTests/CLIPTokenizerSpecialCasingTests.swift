import Foundation
import Testing
import Diffusion
import TestSupport

/// Special-token texts (`<|startoftext|>`, `<|endoftext|>`) in four casings at 19 positions, through four tokenizer
/// setups, against transformers 5.24.0 `CLIPTokenizer` (tokenizer/special_casing.json from
/// tools/fixtures/make_fixtures.py --only tokenizer_casing). Observed: all 160 texts × 4 setups identical.
@Suite struct CLIPTokenizerSpecialCasingTests {
    struct Case: Decodable {
        let text: String
        let clip_vocab_merges: [Int]
        let sd2_tokenizer_json: [Int]
        let string_vocab_merges: [Int]
        let string_tokenizer_json: [Int]
    }
    struct File: Decodable { let cases: [Case] }

    static func file() throws -> File {
        let file = try Fixtures.decode(File.self, "tokenizer/special_casing.json")
        try #require(file.cases.count >= 100, "tokenizer/special_casing.json lists too few cases")
        return file
    }

    /// The two setups with plain-string special tokens in tokenizer_config.json, built as the generator built them.
    static func stringSetups(in folder: ScratchDirectory) throws -> (vocabMerges: CLIPTokenizer, tokenizerJSON: CLIPTokenizer) {
        let fm = FileManager.default
        let raw = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
            Fixtures.path("tokenizer/special_casing.json")))) as? [String: Any])
        let config = try JSONSerialization.data(withJSONObject: try #require(raw["string_specials_config"]))
        let vm = folder.url("vocab-merges"), tj = folder.url("tokenizer-json")
        for url in [vm, tj] { try fm.createDirectory(at: url, withIntermediateDirectories: true) }
        for name in ["vocab.json", "merges.txt"] {
            try fm.copyItem(at: RepositoryPaths.weights.appendingPathComponent("clip/\(name)"), to: vm.appendingPathComponent(name))
        }
        try config.write(to: vm.appendingPathComponent("tokenizer_config.json"))
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
            Fixtures.path("models/tiny-sd-b/tokenizer/tokenizer.json")))) as? [String: Any])
        json["added_tokens"] = try #require(raw["string_added_tokens"])
        try JSONSerialization.data(withJSONObject: json).write(to: tj.appendingPathComponent("tokenizer.json"))
        try config.write(to: tj.appendingPathComponent("tokenizer_config.json"))
        return (try CLIPTokenizer.load(directory: vm.path), try CLIPTokenizer.load(directory: tj.path))
    }

    /// `[BOS, ids…, EOS]` untruncated, as `tokenizer(text).input_ids` gives it.
    static func ids(_ tokenizer: CLIPTokenizer, _ text: String) -> [Int] {
        [tokenizer.bosTokenID] + tokenizer.encode(text) + [tokenizer.eosTokenID]
    }

    @Test("special-token texts in every casing and position give transformers' ids in all four setups")
    func specialTokenTextsInEveryCasingAndPositionGiveTransformersIdsInAllFourSetups() throws {
        let file = try Self.file()
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        let strings = try Self.stringSetups(in: folder)
        let setups: [(String, CLIPTokenizer, KeyPath<Case, [Int]>)] = [
            ("weights/clip", try CLIPTokenizer.load(directory: RepositoryPaths.weights.appendingPathComponent("clip").path), \.clip_vocab_merges),
            ("tiny-sd-b tokenizer.json", try CLIPTokenizer.load(directory: Fixtures.path("models/tiny-sd-b/tokenizer")), \.sd2_tokenizer_json),
            ("string specials, vocab + merges", strings.vocabMerges, \.string_vocab_merges),
            ("string specials, tokenizer.json", strings.tokenizerJSON, \.string_tokenizer_json),
        ]
        var failures: [String] = []
        for c in file.cases {
            for (name, tokenizer, expected) in setups where Self.ids(tokenizer, c.text) != c[keyPath: expected] {
                failures.append("\(name) \(c.text.debugDescription): got \(Self.ids(tokenizer, c.text)), want \(c[keyPath: expected])")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches:\n\(failures.prefix(30).joined(separator: "\n"))")
    }

    @Test("the reported case: <|StartOfText|> with plain-string specials goes through BPE as <| startoftext |>")
    func theReportedCaseStartOfTextWithPlainStringSpecialsGoesThroughBPE() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        let strings = try Self.stringSetups(in: folder)
        #expect(strings.vocabMerges.encode("<|StartOfText|>") == [27, 347, 993, 6659, 4160, 91, 285])
        #expect(strings.tokenizerJSON.encode("A <|StartOfText|> b") == [320, 27, 347, 993, 6659, 4160, 91, 285, 321])
        #expect(strings.tokenizerJSON.encode("<|startoftext|>>") == [49406, 285])
        #expect(strings.tokenizerJSON.encode("<|STARTOFTEXT|>>").suffix(3) == [91, 285, 285])
    }
}
