import Foundation

extension CLIPTokenizer {
    /// Loads a tokenizer folder: `vocab.json` + `merges.txt`, or `tokenizer.json`; the pad token comes
    /// from `tokenizer_config.json` or `special_tokens_map.json` (default `<|endoftext|>`).
    ///
    /// A diffusers model folder is accepted too (its `tokenizer/` subfolder is used).
    /// - Throws: `TokenizerError` when neither layout exists or a file is malformed.
    /// - Parameter padToken: overrides the folder's pad token (registered as an exact special token, as transformers'
    ///   `from_pretrained(pad_token:)` does): `!` for SD 2.x single files read with the SD 1.x vocabulary folder.
    public static func load(directory: String, padToken override: String? = nil) throws -> CLIPTokenizer {
        let fm = FileManager.default
        var folder = URL(fileURLWithPath: directory)
        func has(_ name: String, in url: URL) -> Bool { fm.fileExists(atPath: url.appendingPathComponent(name).path) }
        func hasLayout(_ url: URL) -> Bool {
            (has("vocab.json", in: url) && has("merges.txt", in: url)) || has("tokenizer.json", in: url)
        }
        if !hasLayout(folder), hasLayout(folder.appendingPathComponent("tokenizer")) {
            folder = folder.appendingPathComponent("tokenizer")
        }
        guard hasLayout(folder) else {
            var isDirectory: ObjCBool = false
            let exists = fm.fileExists(atPath: directory, isDirectory: &isDirectory)
            let what = !exists ? "the folder does not exist" : (!isDirectory.boolValue ? "it is not a folder" : "it holds neither vocab.json + merges.txt nor tokenizer.json")
            throw TokenizerError(.missingFiles, path: directory,
                                 message: "no CLIP tokenizer here (\(what)); pass a model's tokenizer/ folder, or weights/clip for single-file checkpoints")
        }
        var specials = try readSpecialTokens(folder)
        if let override {
            specials.removeAll { $0.role == "pad_token" }
            specials.append(("pad_token", AddedToken(override, normalized: false)))
        }
        let padToken = specials.first { $0.role == "pad_token" }?.token.content
        if has("vocab.json", in: folder), has("merges.txt", in: folder) {
            let vocabURL = folder.appendingPathComponent("vocab.json")
            let vocabulary = try readVocabulary(try readJSON(vocabURL), origin: vocabURL.path)
            let mergesURL = folder.appendingPathComponent("merges.txt")
            let merges = try readMergesText(mergesURL)
            let pad = padToken ?? "<|endoftext|>"
            // transformers registers the special tokens in this order; a later one for the same text wins.
            var added = [AddedToken("<|startoftext|>", normalized: true), AddedToken("<|endoftext|>", normalized: true)]
            added += specials.map(\.token)
            if padToken == nil { added.append(AddedToken(pad, normalized: false)) }
            // transformers 5 builds the same pre-tokeniser as CLIP's tokenizer.json (the pattern with the special texts).
            return try CLIPTokenizer(vocabulary: vocabulary, merges: merges, padToken: pad, addedTokens: added,
                                     patternKeepsSpecialTexts: true, origin: folder.path)
        }
        let url = folder.appendingPathComponent("tokenizer.json")
        guard let root = try readJSON(url) as? [String: Any], let model = root["model"] as? [String: Any] else {
            throw TokenizerError(.invalidFormat, path: url.path, message: "no 'model' object; this is not a tokenizers JSON file")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw TokenizerError(.invalidFormat, path: url.path, message: "the model is \(type), not BPE; this is not a CLIP tokenizer")
        }
        var vocabulary = try readVocabulary(model["vocab"] as Any, origin: url.path)
        var addedTokens: [AddedToken] = []
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            if let content = added["content"] as? String, let id = (added["id"] as? NSNumber)?.intValue {
                vocabulary[content] = id
                addedTokens.append(AddedToken(content, normalized: added["normalized"] as? Bool ?? true))
            }
        }
        let pretokenizers = (root["pre_tokenizer"] as? [String: Any]).map { ($0["pretokenizers"] as? [[String: Any]]) ?? [$0] } ?? []
        let patterns = pretokenizers.compactMap { ($0["pattern"] as? [String: Any])?["Regex"] as? String }
        let keepsSpecialTexts = patterns.contains { $0.contains("startoftext") }
        guard let rawMerges = model["merges"] as? [Any] else {
            throw TokenizerError(.invalidFormat, path: url.path, message: "model.merges is missing; re-save the tokenizer with transformers")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(rawMerges.count)
        for entry in rawMerges {
            if let line = entry as? String {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw TokenizerError(.invalidFormat, path: url.path, message: "merge '\(line)' is not two symbols") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else {
                throw TokenizerError(.invalidFormat, path: url.path, message: "a merge is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        let padding = (root["padding"] as? [String: Any])?["pad_token"] as? String
        return try CLIPTokenizer(vocabulary: vocabulary, merges: merges, padToken: padToken ?? padding ?? "<|endoftext|>",
                                 addedTokens: addedTokens, patternKeepsSpecialTexts: keepsSpecialTexts, origin: folder.path)
    }

    private static func readJSON(_ url: URL) throws -> Any {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError(.unreadable, path: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
        do { return try JSONSerialization.jsonObject(with: data) } catch {
            throw TokenizerError(.invalidFormat, path: url.path, message: "not valid JSON; download the tokenizer files again")
        }
    }

    private static func readVocabulary(_ object: Any, origin: String) throws -> [String: Int] {
        guard let raw = object as? [String: Any] else {
            throw TokenizerError(.invalidFormat, path: origin, message: "the vocabulary is not an object of token → id")
        }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(raw.count)
        for (token, value) in raw {
            guard let id = (value as? NSNumber)?.intValue ?? (value as? Int) else {
                throw TokenizerError(.invalidFormat, path: origin, message: "token '\(token)' has a non-integer id")
            }
            vocabulary[token] = id
        }
        return vocabulary
    }

    private static func readMergesText(_ url: URL) throws -> [(String, String)] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TokenizerError(.unreadable, path: url.path, message: "cannot read the file as UTF-8 (\(error.localizedDescription))")
        }
        var merges: [(String, String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            if trimmed.isEmpty || (number == 0 && trimmed.hasPrefix("#version")) { continue }
            let parts = trimmed.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError(.invalidFormat, path: url.path, message: "line \(number + 1) ('\(trimmed.prefix(40))') is not two symbols separated by a space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }

    /// The special tokens of tokenizer_config.json (else special_tokens_map.json) in transformers'
    /// registration order: a string is matched exactly, an AddedToken object by its `normalized` flag.
    private static func readSpecialTokens(_ folder: URL) throws -> [(role: String, token: AddedToken)] {
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            guard let object = try readJSON(url) as? [String: Any] else { continue }
            var tokens: [(role: String, token: AddedToken)] = []
            for role in ["bos_token", "eos_token", "unk_token", "pad_token"] {
                if let text = object[role] as? String {
                    tokens.append((role, AddedToken(text, normalized: false)))
                } else if let entry = object[role] as? [String: Any], let text = entry["content"] as? String {
                    tokens.append((role, AddedToken(text, normalized: entry["normalized"] as? Bool ?? true)))
                }
            }
            if !tokens.isEmpty { return tokens }
        }
        return []
    }
}
