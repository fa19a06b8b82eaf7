import Foundation

extension GenerationParameters {
    /// Reads a `parameters` text as AUTOMATIC1111 writes it (the inverse of `a1111Text`), e.g. to re-render
    /// an image from its PNG metadata. Keys other than the ones this struct holds land in `extra`.
    /// - Throws: `RenderFormatError.unreadableParameters` when the settings line lacks Steps, Sampler, CFG scale,
    ///   Seed or Size, or holds a value that does not parse (an unknown sampler names the known ones).
    public init(a1111Text text: String) throws {
        var lines = text.components(separatedBy: "\n")
        guard let settingsIndex = lines.lastIndex(where: { $0.hasPrefix("Steps: ") }) else {
            throw RenderFormatError(.unreadableParameters, context: "parameters", "no 'Steps: …' settings line; this is not an A1111 parameters text")
        }
        let settings = Self.parseSettings(lines[settingsIndex])
        lines.removeSubrange(settingsIndex...)
        var promptLines: [String] = [], negativeLines: [String] = []
        var inNegative = false
        for line in lines {
            if !inNegative, line.hasPrefix("Negative prompt: ") {
                inNegative = true
                negativeLines.append(String(line.dropFirst("Negative prompt: ".count)))
            } else if inNegative {
                negativeLines.append(line)
            } else {
                promptLines.append(line)
            }
        }
        var values: [String: String] = [:]
        var extra: [(String, String)] = []
        let known: Set<String> = ["Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash", "Model"]
        for (key, value) in settings {
            if known.contains(key) { values[key] = value } else { extra.append((key, value)) }
        }
        func require(_ key: String) throws -> String {
            guard let value = values[key] else {
                throw RenderFormatError(.unreadableParameters, context: "parameters", "the settings line has no '\(key)'")
            }
            return value
        }
        func bad(_ key: String, _ value: String) -> RenderFormatError {
            RenderFormatError(.unreadableParameters, context: "parameters", "'\(key)' has the unreadable value '\(value)'")
        }
        let stepsText = try require("Steps"), cfgText = try require("CFG scale"), seedText = try require("Seed"), sizeText = try require("Size")
        guard let steps = Int(stepsText) else { throw bad("Steps", stepsText) }
        guard let cfg = Float(cfgText) else { throw bad("CFG scale", cfgText) }
        guard let seed = UInt64(seedText) else { throw bad("Seed", seedText) }
        let size = sizeText.split(separator: "x")
        guard size.count == 2, let width = Int(size[0]), let height = Int(size[1]) else { throw bad("Size", sizeText) }
        let sampler: SamplerKind
        do { sampler = try SamplerKind(parsing: try require("Sampler")) } catch let error as RenderFormatError {
            throw RenderFormatError(.unreadableParameters, context: "parameters", "Sampler \(error.message)", underlying: error)
        }
        self.init(prompt: promptLines.joined(separator: "\n"), negativePrompt: negativeLines.joined(separator: "\n"),
                  steps: steps, sampler: sampler, cfgScale: cfg, seed: seed, width: width, height: height,
                  modelHash: values["Model hash"] ?? "", modelName: values["Model"] ?? "", extra: extra)
    }

    /// `Key: value, Key: "quoted, value", …` → pairs in order.
    static func parseSettings(_ line: String) -> [(String, String)] {
        var pairs: [(String, String)] = []
        var rest = Substring(line)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let colon = rest.firstIndex(of: ":") else { break }
            let key = rest[..<colon].trimmingCharacters(in: .whitespaces)
            rest = rest[rest.index(after: colon)...].drop { $0 == " " }
            var value = ""
            if rest.first == "\"" {
                // A JSON string: scan to the closing quote, honouring escapes.
                var end = rest.index(after: rest.startIndex)
                var escaped = false
                while end < rest.endIndex {
                    let c = rest[end]
                    if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { break }
                    end = rest.index(after: end)
                }
                let literal = String(rest[rest.startIndex..<min(rest.index(after: end), rest.endIndex)])
                value = (try? JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? String) ?? literal
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : ""
            } else {
                let comma = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<comma].trimmingCharacters(in: .whitespaces)
                rest = rest[comma...]
            }
            if !key.isEmpty { pairs.append((key, value)) }
        }
        return pairs
    }
}
