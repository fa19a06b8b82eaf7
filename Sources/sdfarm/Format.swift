import Farm
import Foundation
import RenderFormat

/// Text layout shared by the listing commands.
enum Format {
    /// `[#####-----]` (or with `filled`/`empty` characters of choice): the one progress bar every command draws.
    static func bar(_ done: Int, _ total: Int, width: Int = 20, filled: Character = "#", empty: Character = "-") -> String {
        let n = total > 0 ? max(0, min(width, done * width / total)) : 0
        return "[" + String(repeating: filled, count: n) + String(repeating: empty, count: width - n) + "]"
    }

    static func duration(_ seconds: Double?) -> String {
        guard let s = seconds, s.isFinite else { return "unknown" }
        if s < 60 { return "\(Int(s.rounded()))s" }
        if s < 3600 { return "\(Int(s) / 60)m\(Int(s) % 60)s" }
        return "\(Int(s) / 3600)h\(Int(s) % 3600 / 60)m"
    }

    static func clip(_ s: String, _ n: Int) -> String {
        let flat = safe(s.replacingOccurrences(of: "\n", with: " "))
        return flat.count <= n ? flat : String(flat.prefix(n - 1)) + "…"
    }

    /// `s` with every control character (C0 but newline, DEL, C1 — escape sequences start with these) shown as
    /// `\u{1B}`, so text a user typed can never drive the terminal it is printed on.
    static func safe(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if (v < 0x20 && v != 0x0A) || (0x7F...0x9F).contains(v) {
                out.append(contentsOf: "\\u{\(String(v, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Columns padded to their widest cell.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func counts(_ report: JobQueue.StatusReport) -> String {
        JobState.allCases.map { "\($0.rawValue) \(report.counts[$0.rawValue] ?? 0)" }.joined(separator: ", ")
    }

    /// The job kind with what distinguishes it: `txt2img`, `img2img strength 0.5`, `frame 3/8`.
    static func kind(_ p: RenderParameters) -> String {
        switch p.kind {
        case .txt2img: p.kind.name
        case .img2img(_, let strength): "img2img strength \(strength)"
        case .interpolation(let f): "frame \(f.frame + 1)/\(f.frames)"
        }
    }

    /// A number as everything in sdfarm prints it: `7`, `7.5`.
    static func number(_ x: Double) -> String { GenerationParameters.formatNumber(x) }
}
