import Foundation
public import RenderFormat

/// A1111's `<lora:name:weight>` prompt tags (extra networks: `<(\w+):([^>]+)>`, modules/extra_networks.py).
public enum PromptLoRATags {
    /// A tag: the LoRA's name and weight (default 1).
    public struct Tag: Sendable, Equatable {
        public var name: String
        public var weight: Double
    }

    /// The `<lora:…>` tags of a prompt, in order.
    /// - Throws: `RenderFormatError.invalid(input, …)` for a weight that is not a number or out of range, or a tag
    ///   with separate text-encoder and UNet weights (`<lora:x:1:0.5>`), which is not supported.
    public static func tags(in prompt: String, as input: RenderInput = .prompt) throws(RenderFormatError) -> [Tag] {
        var out: [Tag] = []
        for (network, args) in matches(prompt) where network == "lora" {
            let parts = args.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard let name = parts.first, !name.isEmpty else { throw .invalid(input, "has <lora:\(args)> without a name") }
            var weight = 1.0
            if parts.count > 1 {
                guard let w = Double(parts[1].trimmingCharacters(in: .whitespaces)) else {
                    throw .invalid(input, "has <lora:\(args)> whose weight '\(parts[1])' is not a number")
                }
                weight = w
            }
            if parts.count > 2, Double(parts[2]) != weight {
                throw .invalid(input, "has <lora:\(args)> with a separate UNet weight; only one weight per LoRA is supported")
            }
            do { try RenderLimits.validate(loraWeight: weight) } catch { throw .invalid(input, "has <lora:\(args)>: \(error.message)") }
            out.append(Tag(name: name, weight: weight))
        }
        return out
    }

    /// The prompt with every extra-network tag removed, as A1111 encodes it.
    public static func strip(_ prompt: String) -> String {
        guard prompt.contains("<") else { return prompt }
        var result = ""
        var rest = prompt[...]
        while let (range, _, _) = firstMatch(rest) {
            result += rest[..<range.lowerBound]
            rest = rest[range.upperBound...]
        }
        return result + rest
    }

    /// Resolves the tags of `prompt` to files `<directory>/<name>.safetensors`.
    /// - Throws: `RenderFormatError` for a bad tag; `ModelError(.missingFile)` naming the LoRA and the folder when it is
    ///   not there (or no folder was given).
    public static func resolve(_ prompt: String, directory: String?) throws -> [LoRAReference] {
        let found = try tags(in: prompt)
        guard !found.isEmpty else { return [] }
        guard let directory, !directory.isEmpty else {
            throw ModelError(code: .missingFile, origin: "<lora:\(found[0].name)>",
                             message: "the prompt names LoRA '\(found[0].name)' but no LoRA folder was given; pass --lora-dir")
        }
        return try found.map { tag in
            let path = (directory as NSString).appendingPathComponent(tag.name + ".safetensors")
            guard FileManager.default.fileExists(atPath: path) else {
                throw ModelError(code: .missingFile, origin: path, message: "LoRA '\(tag.name)' is not in \(directory) (looked for \(tag.name).safetensors)")
            }
            return LoRAReference(path: path, weight: tag.weight)
        }
    }

    static func matches(_ prompt: String) -> [(String, String)] {
        var out: [(String, String)] = []
        var rest = prompt[...]
        while let (range, network, args) = firstMatch(rest) {
            out.append((network, args))
            rest = rest[range.upperBound...]
        }
        return out
    }

    /// The first `<(\w+):([^>]+)>` in `text`.
    static func firstMatch(_ text: Substring) -> (Range<Substring.Index>, String, String)? {
        var search = text.startIndex
        while let open = text[search...].firstIndex(of: "<") {
            var i = text.index(after: open)
            while i < text.endIndex, text[i].isLetter || text[i].isNumber || text[i] == "_" { i = text.index(after: i) }
            if i > text.index(after: open), i < text.endIndex, text[i] == ":" {
                let argsStart = text.index(after: i)
                if let close = text[argsStart...].firstIndex(of: ">"), close > argsStart {
                    return (open..<text.index(after: close), String(text[text.index(after: open)..<i]), String(text[argsStart..<close]))
                }
            }
            search = text.index(after: open)
        }
        return nil
    }
}
