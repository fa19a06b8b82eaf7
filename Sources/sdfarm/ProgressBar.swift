import Foundation

/// A one-line progress bar on standard error (plain lines when not a terminal), drawn with `Format.bar`.
final class ProgressBar {
    let label: String
    let enabled: Bool
    private let start = Date()

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
    }

    func update(_ done: Int, of total: Int) {
        let elapsed = Date().timeIntervalSince(start)
        if enabled {
            let bar = Format.bar(done, total, width: 30, filled: "█", empty: "·")
            FileHandle.standardError.write(Data("\r\(label) \(bar) \(done)/\(total) \(String(format: "%.1f", elapsed))s".utf8))
        } else {
            FileHandle.standardError.write(Data("\(label): step \(done)/\(total) (\(String(format: "%.1f", elapsed)) s)\n".utf8))
        }
    }

    func finish() { if enabled { FileHandle.standardError.write(Data("\n".utf8)) } }
}
