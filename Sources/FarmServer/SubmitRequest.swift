public import Farm
public import FarmDiffusion
import Foundation
import RenderFormat

/// The body of `POST /api/v1/batches`: the options of `sdfarm submit` in snake case. List fields take the CLI's
/// syntax (`"seeds": "1-4,9"`, `"sizes": "512x512,768x512"`) or a JSON array of the same items. It becomes a
/// `GridSpec` through `GridParsing` and is checked by `JobQueue.check` with `ModelChecks`, exactly as the CLI does.
public struct SubmitRequest: Decodable, Sendable {
    public var model: String
    public var prompts: [String]?
    public var negativePrompt: String?
    public var seeds: ListField?
    public var cfgScales: ListField?
    public var steps: ListField?
    public var samplers: ListField?
    public var sizes: ListField?
    public var priority: Int?
    public var maxAttempts: Int?
    public var name: String?
    /// Image-to-image: the PNG, base64-encoded; stored in `<storage>/inputs/<sha256>.png` once the batch is valid.
    public var initImage: String?
    public var strengths: ListField?
    /// Prompt interpolation: prompts A and B (instead of `prompts`).
    public var interpolate: [String]?
    public var frames: Int?
    public var lerp: Bool?
    /// Receives `{"batch", "name", "counts", "total", "event"}` when the batch ends.
    public var webhookURL: String?

    enum CodingKeys: String, CodingKey {
        case model, prompts, seeds, steps, samplers, sizes, priority, name, strengths, interpolate, frames, lerp
        case negativePrompt = "negative_prompt", cfgScales = "cfg_scales", maxAttempts = "max_attempts"
        case initImage = "init_image", webhookURL = "webhook_url"
    }

    /// A list in the CLI's comma syntax, given as a string, a number or an array of them.
    public struct ListField: Decodable, Sendable {
        public let text: String
        public init(_ text: String) { self.text = text }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { text = s; return }
            if let n = try? c.decode(UInt64.self) { text = String(n); return }
            if let d = try? c.decode(Double.self) { text = GenerationParameters.formatNumber(d); return }
            if let a = try? c.decode([String].self) { text = a.joined(separator: ","); return }
            if let a = try? c.decode([UInt64].self) { text = a.map(String.init).joined(separator: ","); return }
            if let a = try? c.decode([Double].self) { text = a.map { GenerationParameters.formatNumber($0) }.joined(separator: ","); return }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a string like \"1,2,10-20\", a number or an array")
        }
    }

    /// A grid checked as `sdfarm submit` checks it, with the init image to store.
    public struct Checked: Sendable {
        public let grid: JobQueue.CheckedGrid
        public let initImage: InitImageStore.Prepared?
        public let webhookURL: String?
    }

    /// Builds and checks the grid (parsers, limits, model checks); the init image is decoded but not stored.
    /// - Throws: `RenderFormatError`/`FarmError`/model errors, each naming the field.
    public func check() throws -> Checked {
        var interpolation: GridSpec.Interpolation?
        var allPrompts = prompts ?? []
        if let interpolate {
            guard interpolate.count == 2 else { throw RenderFormatError.invalid(.interpolate, "takes exactly two prompts (A then B), got \(interpolate.count)") }
            guard allPrompts.isEmpty else { throw RenderFormatError.invalid(.interpolate, "replaces prompts; the prompts are A and B") }
            guard initImage == nil else { throw RenderFormatError.invalid(.interpolate, "cannot be combined with an init image in one batch") }
            guard let frames else { throw RenderFormatError.invalid(.frames, "interpolate needs frames (at least \(RenderLimits.frames.lowerBound))") }
            try RenderLimits.validate(frames: frames)
            interpolation = GridSpec.Interpolation(target: interpolate[1], frames: frames, linear: lerp ?? false)
            allPrompts = [interpolate[0]]
        } else if frames != nil || lerp != nil {
            throw RenderFormatError.invalid(.frames, "frames and lerp only apply with interpolate")
        }
        guard !allPrompts.isEmpty else { throw RenderFormatError.invalid(.prompts, "give at least one prompt (or interpolate [A, B])") }
        if strengths != nil && initImage == nil { throw RenderFormatError.invalid(.strengths, "only apply with init_image") }
        var parsedSizes = try GridParsing.sizes(sizes?.text ?? "512x512")
        var picture: InitImageStore.Prepared?
        if let initImage {
            guard let bytes = Data(base64Encoded: initImage, options: .ignoreUnknownCharacters) else {
                throw RenderFormatError.invalid(.initImage, "is not base64 (give the PNG file's bytes, base64-encoded)")
            }
            let prepared = try InitImageStore.prepare([UInt8](bytes), path: "init_image")
            let (w, h) = (prepared.reference.width, prepared.reference.height)
            if sizes != nil, let s = parsedSizes.first(where: { $0.width != w || $0.height != h }) {
                throw RenderFormatError.invalid(.sizes, "\(s) differs from the init image's \(w)x\(h); resize the image or leave sizes out")
            }
            parsedSizes = [GridSpec.Size(width: w, height: h)]
            picture = prepared
        }
        let spec = GridSpec(model: model, prompts: allPrompts, negativePrompt: negativePrompt ?? "",
                            seeds: try GridParsing.seeds(seeds?.text ?? "0"), cfgScales: try GridParsing.cfgScales(cfgScales?.text ?? "7.5"),
                            steps: try GridParsing.steps(steps?.text ?? "20"), samplers: try GridParsing.samplers(samplers?.text ?? "ddim"),
                            sizes: parsedSizes, priority: priority ?? 0, maxAttempts: maxAttempts ?? 3, name: name ?? "",
                            initImage: picture?.reference, strengths: picture == nil ? nil : try GridParsing.strengths(strengths?.text ?? "0.75"),
                            interpolation: interpolation)
        let webhook = try webhookURL.map(JobQueue.validateWebhookURL)
        return Checked(grid: try JobQueue.check(spec) { try ModelChecks.validate($0, loraDirectory: nil) }, initImage: picture, webhookURL: webhook)
    }
}
