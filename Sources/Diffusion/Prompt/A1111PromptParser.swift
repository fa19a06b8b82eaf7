public import RenderFormat

/// AUTOMATIC1111's emphasis syntax, parsed as its `parse_prompt_attention` parses it.
///
/// Matches stable-diffusion-webui `modules/prompt_parser.py` (`re_attention`, `re_break`,
/// `parse_prompt_attention`; https://github.com/AUTOMATIC1111/stable-diffusion-webui/blob/master/modules/prompt_parser.py,
/// commit 28bd8e1): `(text)` × 1.1, `[text]` ÷ 1.1, `(text:w)` × w, `\(` `\)` `\[` `\]` `\\` literal, a lone `\`
/// dropped, unclosed brackets applied to the end, `BREAK` (a whole word, upper case) splitting the text, runs
/// of equal weight merged. Weights multiply in `Double` in the order A1111 multiplies them, so merges
/// compare the same numbers. Checked against a table of A1111's own parses (prompts/a1111_parses.json).
public enum A1111PromptParser {
    /// A run of text and its weight. A `BREAK` is the text "BREAK" with weight −1 (A1111's marker; inside
    /// brackets its weight is multiplied too and it is then ordinary text, as in A1111).
    public struct Segment: Sendable, Equatable {
        public var text: String
        public var weight: Double
        public init(_ text: String, _ weight: Double) {
            self.text = text
            self.weight = weight
        }
        /// A1111's chunk break marker.
        public var isBreak: Bool { text == "BREAK" && weight == -1 }
    }

    /// Parses a prompt into weighted runs.
    /// - Parameter input: the input the prompt is, for errors.
    /// - Throws: `RenderFormatError.invalid(input, …)` for a weight A1111 cannot read either
    ///   (`(a:1.2.3)`: A1111 stops with a ValueError).
    public static func parse(_ prompt: String, as input: RenderInput = .prompt) throws(RenderFormatError) -> [Segment] {
        let s = Array(prompt.unicodeScalars)
        var res: [Segment] = []
        var round: [Int] = []
        var square: [Int] = []
        func multiply(from start: Int, by m: Double) {
            for p in start..<res.count { res[p].weight *= m }
        }
        func text(_ range: Range<Int>) -> String {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[range])
            return String(v)
        }
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                // \( \) \[ \] \\ are literals; a lone backslash matches `\\` alone and leaves nothing.
                if i + 1 < s.count, "()[]\\".unicodeScalars.contains(s[i + 1]) {
                    res.append(Segment(String(s[i + 1]), 1))
                    i += 2
                } else {
                    res.append(Segment("", 1))
                    i += 1
                }
                continue
            }
            if c == "(" { round.append(res.count); i += 1; continue }
            if c == "[" { square.append(res.count); i += 1; continue }
            if c == ":" {
                if let (weightText, end) = weightSuffix(s, at: i), !round.isEmpty {
                    guard let weight = Double(weightText) else {
                        throw .invalid(input, "has the weight '\(weightText)' in '(…:\(weightText))', which is not a number (A1111 cannot read it either); write it like 1.2")
                    }
                    multiply(from: round.removeLast(), by: weight)
                    i = end
                    continue
                }
                if weightSuffix(s, at: i) != nil {
                    // `:w)` without an open bracket: A1111 falls through to plain text for the whole match.
                    let (_, end) = weightSuffix(s, at: i)!
                    appendText(text(i..<end), to: &res)
                    i = end
                    continue
                }
                appendText(":", to: &res)
                i += 1
                continue
            }
            if c == ")", !round.isEmpty { multiply(from: round.removeLast(), by: 1.1); i += 1; continue }
            if c == "]", !square.isEmpty { multiply(from: square.removeLast(), by: 1 / 1.1); i += 1; continue }
            if c == ")" || c == "]" { appendText(String(c), to: &res); i += 1; continue }
            var j = i
            while j < s.count, !"\\()[]:".unicodeScalars.contains(s[j]) { j += 1 }
            appendText(text(i..<j), to: &res)
            i = j
        }
        for p in round { multiply(from: p, by: 1.1) }
        for p in square { multiply(from: p, by: 1 / 1.1) }
        if res.isEmpty { res = [Segment("", 1)] }
        var k = 0
        while k + 1 < res.count {
            if res[k].weight == res[k + 1].weight {
                res[k].text += res[k + 1].text
                res.remove(at: k + 1)
            } else {
                k += 1
            }
        }
        return res
    }

    /// `:\s*([+-]?[.\d]+)\s*\)` at `i`: the weight text and the index after the `)`.
    static func weightSuffix(_ s: [Unicode.Scalar], at i: Int) -> (String, Int)? {
        var j = i + 1
        while j < s.count, s[j].properties.isWhitespace { j += 1 }
        let start = j
        if j < s.count, s[j] == "+" || s[j] == "-" { j += 1 }
        let digitsStart = j
        while j < s.count, s[j] == "." || ("0"..."9").contains(s[j]) { j += 1 }
        guard j > digitsStart else { return nil }
        let end = j
        while j < s.count, s[j].properties.isWhitespace { j += 1 }
        guard j < s.count, s[j] == ")" else { return nil }
        var v = String.UnicodeScalarView()
        v.append(contentsOf: s[start..<end])
        return (String(v), j + 1)
    }

    /// A plain-text match: split on `\s*\bBREAK\b\s*` (`re.split`), a break marker between the parts.
    static func appendText(_ text: String, to res: inout [Segment]) {
        for (n, part) in splitOnBreak(text).enumerated() {
            if n > 0 { res.append(Segment("BREAK", -1)) }
            res.append(Segment(part, 1))
        }
    }

    /// Python's `re.split(r"\s*\bBREAK\b\s*", text)`.
    static func splitOnBreak(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        let word = Array("BREAK".unicodeScalars)
        func isWord(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil }
        var parts: [String] = []
        var partStart = 0
        var i = 0
        func piece(_ r: Range<Int>) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: s[r]); return String(v) }
        while i + word.count <= s.count {
            if s[i..<(i + word.count)].elementsEqual(word), i == 0 || !isWord(s[i - 1]),
               i + word.count == s.count || !isWord(s[i + word.count]) {
                var start = i
                while start > partStart, s[start - 1].properties.isWhitespace { start -= 1 }
                var end = i + word.count
                while end < s.count, s[end].properties.isWhitespace { end += 1 }
                parts.append(piece(partStart..<start))
                partStart = end
                i = end
                continue
            }
            i += 1
        }
        parts.append(piece(partStart..<s.count))
        return parts
    }
}
