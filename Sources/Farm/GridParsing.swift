import Foundation
public import RenderFormat

/// Parsers for the list syntax of a submission (`sdfarm submit`'s options and the HTTP API's fields alike),
/// each failing with `RenderFormatError.invalid` naming the input and the bad part.
public enum GridParsing {
    /// `1,2,10-20` → [1, 2, 10, …, 20]. Ranges are inclusive; duplicates are an error.
    public static func seeds(_ text: String) throws(RenderFormatError) -> [UInt64] {
        var out: [UInt64] = []
        var seen = Set<UInt64>()
        for raw in try items(text, input: .seeds) {
            if raw.hasPrefix("-") {
                throw .invalid(.seeds, "'\(raw)' is negative; seeds are whole numbers 0…18446744073709551615")
            }
            let parts = raw.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let values: ClosedRange<UInt64>
            switch parts.count {
            case 1:
                guard let v = UInt64(parts[0]) else {
                    throw .invalid(.seeds, "'\(raw)' is not a seed; seeds are whole numbers 0…18446744073709551615, e.g. 1,2,10-20")
                }
                values = v...v
            case 2:
                guard let a = UInt64(parts[0]), let b = UInt64(parts[1]) else {
                    throw .invalid(.seeds, "'\(raw)' is not a range; write FIRST-LAST with whole numbers, e.g. 10-20")
                }
                guard a <= b else { throw .invalid(.seeds, "range '\(raw)' runs backwards; write \(b)-\(a)") }
                guard b - a < UInt64(BatchLimits.maxJobs) else {
                    throw .invalid(.seeds, "range '\(raw)' has \(b - a + 1) seeds; at most \(BatchLimits.maxJobs) jobs fit in one batch")
                }
                values = a...b
            default:
                throw .invalid(.seeds, "'\(raw)' is neither a seed nor a range FIRST-LAST (negative seeds are not allowed)")
            }
            for v in values {
                guard seen.insert(v).inserted else { throw .invalid(.seeds, "lists seed \(v) more than once") }
                out.append(v)
                guard out.count <= BatchLimits.maxJobs else {
                    throw .invalid(.seeds, "'\(text.prefix(80))' has more than \(BatchLimits.maxJobs) seeds; at most \(BatchLimits.maxJobs) jobs fit in one batch")
                }
            }
        }
        return out
    }

    /// `5,7.5` → [5, 7.5]; each within `RenderLimits.cfgScale`.
    public static func cfgScales(_ text: String) throws(RenderFormatError) -> [Double] {
        try numbers(text, .cfgScale, "a number, e.g. 5,7.5") { (v: Double) throws(RenderFormatError) in try RenderLimits.validate(cfgScale: v) }
    }

    /// `0.3,0.5,1` → strengths, each in (0, 1], no duplicates.
    public static func strengths(_ text: String) throws(RenderFormatError) -> [Double] {
        var seen = Set<Double>()
        return try numbers(text, .strength, "a number greater than 0 and at most 1, e.g. 0.5,0.75") { (v: Double) throws(RenderFormatError) in
            guard v.isFinite, v > 0, v <= 1 else { throw .invalid(.strength, "\(v) is not greater than 0 and at most 1") }
            guard seen.insert(v).inserted else { throw .invalid(.strength, "lists \(v) more than once") }
        }
    }

    /// `20,30` → [20, 30]; each within `RenderLimits.steps`.
    public static func steps(_ text: String) throws(RenderFormatError) -> [Int] {
        try numbers(text, .steps, "a whole number, e.g. 20,30") { (v: Int) throws(RenderFormatError) in try RenderLimits.validate(steps: v) }
    }

    /// A comma-separated list of numbers, each parsed as `T` and passed to `check`.
    private static func numbers<T: LosslessStringConvertible>(_ text: String, _ input: RenderInput, _ expected: String,
                                                              check: (T) throws(RenderFormatError) -> Void) throws(RenderFormatError) -> [T] {
        var out: [T] = []
        for raw in try items(text, input: input) {
            guard let v = T(raw) else { throw .invalid(input, "'\(raw)' is not \(expected)") }
            try check(v)
            out.append(v)
        }
        return out
    }

    /// `ddim,euler_a` → samplers.
    public static func samplers(_ text: String) throws(RenderFormatError) -> [SamplerKind] {
        try items(text, input: .sampler).map { (raw) throws(RenderFormatError) -> SamplerKind in try SamplerKind(name: raw) }
    }

    /// `512x512,768x512` → sizes, each within `RenderLimits`.
    public static func sizes(_ text: String) throws(RenderFormatError) -> [GridSpec.Size] {
        try items(text, input: .size).map { (raw) throws(RenderFormatError) -> GridSpec.Size in
            let parts = raw.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]) else {
                throw .invalid(.size, "'\(raw)' is not WIDTHxHEIGHT, e.g. 512x512,768x512")
            }
            do throws(RenderFormatError) { try RenderLimits.validate(width: w, height: h) } catch {
                throw .invalid(.size, "\(raw): \(error.input?.rawValue ?? "side") \(error.message)")
            }
            return GridSpec.Size(width: w, height: h)
        }
    }

    /// One prompt per non-blank line; lines starting with `#` are comments.
    public static func prompts(file path: String) throws(RenderFormatError) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalid(.prompts, "file \(path) cannot be read: it does not exist or is not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalid(.prompts, "file \(path) is not UTF-8 text")
        }
        let prompts = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !prompts.isEmpty else {
            throw .invalid(.prompts, "file \(path) has no prompts; write one prompt per line (blank lines and # comments are skipped)")
        }
        return prompts
    }

    private static func items(_ text: String, input: RenderInput) throws(RenderFormatError) -> [String] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if let empty = parts.firstIndex(where: \.isEmpty) {
            throw .invalid(input, "'\(text.prefix(200))' has an empty item at position \(empty + 1); separate values with single commas")
        }
        return parts
    }
}
