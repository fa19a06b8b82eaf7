/// How a prompt's text becomes token ids: as diffusers tokenizes it, or as AUTOMATIC1111 parses it.
public enum PromptSyntax: String, Sendable, Hashable, Codable, CaseIterable {
    /// diffusers' `StableDiffusionPipeline`: the text as is, one 77-token window, the rest dropped. The default
    /// (what every job stored before the field existed renders with).
    case diffusers
    /// AUTOMATIC1111's: `(text)`, `(text:1.3)`, `[text]`, `\(` escapes and `BREAK`; any length, in 75-token
    /// chunks encoded separately and concatenated; emphasis "Original" (weights, then the mean restored).
    case a1111

    /// The default for a new job: `diffusers`.
    public static let `default`: PromptSyntax = .diffusers

    /// Parses `diffusers` or `a1111` (case-insensitive; `automatic1111` too).
    /// - Throws: `RenderFormatError.invalid(.promptSyntax, …)` naming the known values.
    public init(name: String) throws(RenderFormatError) {
        let key = name.lowercased()
        if key == "automatic1111" { self = .a1111; return }
        guard let value = Self(rawValue: key) else {
            throw .invalid(.promptSyntax, "'\(name)' is unknown; known prompt syntaxes: \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = value
    }
}
