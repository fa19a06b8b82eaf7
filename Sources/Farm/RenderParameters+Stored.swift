import Foundation
public import RenderFormat

/// The queue's edge: a job as the `jobs` table stores it (`kind` text, `extra` jsonb of strings, a column per
/// common parameter) and as `--json` listings print it. Decoding happens here, once; a row that does not
/// decode is an error naming the job and the field.
extension RenderParameters: Codable {
    enum CodingKeys: String, CodingKey {
        case kind, model, prompt, seed, steps, sampler, width, height, extra
        case negativePrompt = "negative_prompt"
        case cfgScale = "cfg_scale"
    }

    /// The kind-specific values as the `extra` column stores them.
    public var storedExtra: [String: String] {
        var extra: [String: String]
        switch kind {
        case .txt2img:
            extra = [:]
        case .img2img(let input, let strength):
            extra = ["init_image": input.storagePath, "init_image_sha256": input.sha256, "strength": String(strength)]
        case .interpolation(let f):
            extra = ["prompt_b": f.target, "frame": String(f.frame), "frames": String(f.frames), "t": String(f.t),
                     "interpolation": f.method.rawValue]
        }
        if promptSyntax != .diffusers { extra["prompt_syntax"] = promptSyntax.rawValue }
        if !loras.isEmpty, let json = try? JSONEncoder().encode(loras) { extra["loras"] = String(decoding: json, as: UTF8.self) }
        return extra
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind.name, forKey: .kind)
        try c.encode(model, forKey: .model)
        try c.encode(prompt, forKey: .prompt)
        try c.encode(negativePrompt, forKey: .negativePrompt)
        try c.encode(seed, forKey: .seed)
        try c.encode(steps, forKey: .steps)
        try c.encode(sampler.rawValue, forKey: .sampler)
        try c.encode(cfgScale, forKey: .cfgScale)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
        try c.encode(storedExtra, forKey: .extra)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(stored: StoredJob(
                kind: try c.decode(String.self, forKey: .kind), model: try c.decode(String.self, forKey: .model),
                prompt: try c.decode(String.self, forKey: .prompt), negativePrompt: try c.decode(String.self, forKey: .negativePrompt),
                seed: try c.decode(UInt64.self, forKey: .seed), steps: try c.decode(Int.self, forKey: .steps),
                sampler: try c.decode(String.self, forKey: .sampler), cfgScale: try c.decode(Double.self, forKey: .cfgScale),
                width: try c.decode(Int.self, forKey: .width), height: try c.decode(Int.self, forKey: .height),
                extra: try c.decodeIfPresent([String: String].self, forKey: .extra) ?? [:]))
        } catch let error as JobDecodingError {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: error.description, underlyingError: error))
        }
    }

    /// A job's values as stored, before decoding.
    struct StoredJob {
        var kind: String, model: String, prompt: String, negativePrompt: String, seed: UInt64, steps: Int, sampler: String
        var cfgScale: Double, width: Int, height: Int, extra: [String: String]
    }

    /// Decodes the stored form.
    /// - Throws: `JobDecodingError` naming the field that is missing or malformed.
    init(stored s: StoredJob) throws(JobDecodingError) {
        func field(_ name: String) throws(JobDecodingError) -> String {
            guard let v = s.extra[name] else { throw JobDecodingError(field: "extra.\(name)", problem: "is missing for a \(s.kind) job") }
            return v
        }
        let kind: JobKind
        switch s.kind {
        case "txt2img":
            kind = .txt2img
        case "img2img":
            let digest = try field("init_image_sha256")
            let input: InitImageInput
            do { input = try InitImageInput(sha256: digest) } catch {
                throw JobDecodingError(field: "extra.init_image_sha256", problem: error.message)
            }
            guard try field("init_image") == input.storagePath else {
                throw JobDecodingError(field: "extra.init_image", problem: "'\(s.extra["init_image"] ?? "")' is not \(input.storagePath); init images live only at their content address in storage")
            }
            guard let strength = Double(try field("strength")) else {
                throw JobDecodingError(field: "extra.strength", problem: "'\(s.extra["strength"] ?? "")' is not a number")
            }
            kind = .img2img(input, strength: strength)
        case "interpolate":
            guard let frame = Int(try field("frame")) else { throw JobDecodingError(field: "extra.frame", problem: "is not a whole number") }
            guard let frames = Int(try field("frames")) else { throw JobDecodingError(field: "extra.frames", problem: "is not a whole number") }
            let methodName = s.extra["interpolation"] ?? InterpolationMethod.slerp.rawValue
            guard let method = InterpolationMethod(rawValue: methodName) else {
                throw JobDecodingError(field: "extra.interpolation", problem: "'\(methodName)' is neither slerp nor lerp")
            }
            kind = .interpolation(InterpolationFrame(target: try field("prompt_b"), frame: frame, frames: frames, method: method))
        default:
            throw JobDecodingError(field: "kind", problem: "'\(s.kind)' is not a job kind (txt2img, img2img, interpolate)")
        }
        let sampler: SamplerKind
        do { sampler = try SamplerKind(name: s.sampler) } catch {
            throw JobDecodingError(field: "sampler", problem: error.message)
        }
        var syntax = PromptSyntax.diffusers
        if let name = s.extra["prompt_syntax"] {
            do { syntax = try PromptSyntax(name: name) } catch {
                throw JobDecodingError(field: "extra.prompt_syntax", problem: error.message)
            }
        }
        var loras: [LoRAReference] = []
        if let text = s.extra["loras"] {
            do { loras = try JSONDecoder().decode([LoRAReference].self, from: Data(text.utf8)) } catch {
                throw JobDecodingError(field: "extra.loras", problem: "'\(text.prefix(80))' is not a list of {path, weight}")
            }
        }
        self.init(kind: kind, model: s.model, prompt: s.prompt, negativePrompt: s.negativePrompt, seed: s.seed, steps: s.steps,
                  sampler: sampler, cfgScale: s.cfgScale, width: s.width, height: s.height, promptSyntax: syntax, loras: loras)
    }
}

/// A stored job that does not decode into `RenderParameters`.
public struct JobDecodingError: Error, CustomStringConvertible, Sendable {
    /// The column or `extra.<key>`.
    public let field: String
    public let problem: String
    public var description: String { "field \(field) \(problem)" }
}
