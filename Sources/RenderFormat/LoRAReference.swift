import Foundation

/// A LoRA to merge for one render: its file and weight.
public struct LoRAReference: Sendable, Hashable, Codable {
    /// Absolute path of the `.safetensors` file as this host sees it.
    public var path: String
    public var weight: Double

    public init(path: String, weight: Double) {
        self.path = path
        self.weight = weight
    }

    /// A1111's LoRA name: the file name without `.safetensors`.
    public var name: String { URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }

    /// `FILE:WEIGHT` (weight 1 when omitted), as `--lora` takes it.
    /// - Throws: `RenderFormatError.invalid(.lora, …)` for a weight that is not a number or outside `RenderLimits.loraWeight`.
    public init(parsing text: String) throws(RenderFormatError) {
        var path = text, weight = 1.0
        if let colon = text.lastIndex(of: ":"), let w = Double(text[text.index(after: colon)...]) {
            path = String(text[..<colon])
            weight = w
        }
        guard !path.isEmpty else { throw .invalid(.lora, "'\(text)' names no file; write FILE:WEIGHT, e.g. style.safetensors:0.8") }
        try RenderLimits.validate(loraWeight: weight)
        self.init(path: path, weight: weight)
    }
}

