import Foundation

/// A submission: the lists whose cartesian product becomes the jobs of one batch.
///
/// Order of expansion (outermost first): prompt, size, sampler, steps, CFG scale, seed, then image-to-image
/// strength or interpolation frame — so a batch reads naturally as "each prompt, every seed", and the
/// frames of one interpolation are consecutive jobs in frame order.
///
/// Image-to-image batches (`initImage`) expand over `strengths` with `kind` `img2img` and `extra`
/// `init_image` (path relative to the storage root), `init_image_sha256`, `strength`. Interpolation
/// batches (`interpolation`) render `frames` jobs per combination with `kind` `interpolate` and `extra`
/// `prompt_b`, `frame`, `frames`, `t` (= frame / (frames − 1)) and `interpolation` (`slerp` or `lerp`).
public struct GridSpec: Sendable, Codable, Equatable {
    public var model: String
    public var prompts: [String]
    public var negativePrompt: String
    public var seeds: [UInt64]
    public var cfgScales: [Double]
    public var steps: [Int]
    public var samplers: [String]
    public var sizes: [Size]
    public var priority: Int
    public var maxAttempts: Int
    public var name: String
    /// Image-to-image: the picture every job starts from.
    public var initImage: InitImageRef?
    /// Image-to-image strengths, each in (0, 1].
    public var strengths: [Double]?
    /// Prompt interpolation from each prompt to `interpolation.target`.
    public var interpolation: Interpolation?

    /// An init image copied into shared storage.
    public struct InitImageRef: Sendable, Codable, Equatable {
        /// Path relative to the storage root (e.g. `inputs/<sha256>.png`).
        public var path: String
        public var sha256: String
        public var width: Int
        public var height: Int
        public init(path: String, sha256: String, width: Int, height: Int) {
            self.path = path; self.sha256 = sha256; self.width = width; self.height = height
        }
    }

    /// A prompt interpolation: `frames` frames from the prompt to `target`.
    public struct Interpolation: Sendable, Codable, Equatable {
        public var target: String
        public var frames: Int
        /// Linear instead of spherical interpolation.
        public var linear: Bool
        public init(target: String, frames: Int, linear: Bool = false) {
            self.target = target; self.frames = frames; self.linear = linear
        }
    }

    public struct Size: Sendable, Codable, Equatable, Hashable, CustomStringConvertible {
        public var width: Int
        public var height: Int
        public init(width: Int, height: Int) { self.width = width; self.height = height }
        public var description: String { "\(width)x\(height)" }
    }

    public init(model: String, prompts: [String], negativePrompt: String = "", seeds: [UInt64] = [0],
                cfgScales: [Double] = [7.5], steps: [Int] = [20], samplers: [String] = ["ddim"],
                sizes: [Size] = [Size(width: 512, height: 512)], priority: Int = 0, maxAttempts: Int = 3, name: String = "",
                initImage: InitImageRef? = nil, strengths: [Double]? = nil, interpolation: Interpolation? = nil) {
        self.model = model
        self.prompts = prompts
        self.negativePrompt = negativePrompt
        self.seeds = seeds
        self.cfgScales = cfgScales
        self.steps = steps
        self.samplers = samplers
        self.sizes = sizes
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.name = name
        self.initImage = initImage
        self.strengths = strengths
        self.interpolation = interpolation
    }

    enum CodingKeys: String, CodingKey {
        case model, prompts, seeds, steps, samplers, sizes, priority, name, strengths, interpolation
        case initImage = "init_image"
        case negativePrompt = "negative_prompt"
        case cfgScales = "cfg_scales"
        case maxAttempts = "max_attempts"
    }

    /// The number of jobs the grid expands to.
    public var jobCount: Int { prompts.count * sizes.count * samplers.count * steps.count * cfgScales.count * seeds.count * variants.count }

    /// The kind and kind-specific values of the jobs of one combination, in order.
    var variants: [(kind: String, extra: [String: String])] {
        if let initImage {
            let base = ["init_image": initImage.path, "init_image_sha256": initImage.sha256]
            return (strengths ?? [0.75]).map { s in ("img2img", base.merging(["strength": String(s)]) { a, _ in a }) }
        }
        if let interpolation {
            return (0..<interpolation.frames).map { i in
                let t = interpolation.frames > 1 ? Double(i) / Double(interpolation.frames - 1) : 0
                return ("interpolate", ["prompt_b": interpolation.target, "frame": String(i), "frames": String(interpolation.frames),
                                        "t": String(t), "interpolation": interpolation.linear ? "lerp" : "slerp"])
            }
        }
        return [("txt2img", [:])]
    }

    /// The jobs' parameters, in cell order.
    public func expand() -> [RenderParameters] {
        var out: [RenderParameters] = []
        out.reserveCapacity(jobCount)
        for prompt in prompts {
            for size in sizes {
                for sampler in samplers {
                    for n in steps {
                        for cfg in cfgScales {
                            for seed in seeds {
                                for variant in variants {
                                    out.append(RenderParameters(kind: variant.kind, model: model, prompt: prompt, negativePrompt: negativePrompt,
                                                                seed: seed, steps: n, sampler: sampler, cfgScale: cfg,
                                                                width: size.width, height: size.height, extra: variant.extra))
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Parsers for the list options of `sdfarm submit`, each failing with a message that names the bad part.
public enum GridParsing {
    /// The most jobs one submission may create.
    public static let maxJobs = 100_000

    /// `1,2,10-20` → [1, 2, 10, …, 20]. Ranges are inclusive; duplicates are an error.
    public static func seeds(_ text: String) throws -> [UInt64] {
        var out: [UInt64] = []
        var seen = Set<UInt64>()
        for raw in try items(text, option: "--seeds") {
            if raw.hasPrefix("-") {
                throw FarmError(.invalidInput, "--seeds: '\(raw)' is negative; seeds are whole numbers 0…18446744073709551615")
            }
            let parts = raw.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let values: [UInt64]
            switch parts.count {
            case 1:
                guard let v = UInt64(parts[0]) else {
                    throw FarmError(.invalidInput, "--seeds: '\(raw)' is not a seed; seeds are whole numbers 0…18446744073709551615, e.g. --seeds 1,2,10-20")
                }
                values = [v]
            case 2:
                guard let a = UInt64(parts[0]), let b = UInt64(parts[1]) else {
                    throw FarmError(.invalidInput, "--seeds: '\(raw)' is not a range; write FIRST-LAST with whole numbers, e.g. 10-20")
                }
                guard a <= b else { throw FarmError(.invalidInput, "--seeds: range '\(raw)' runs backwards; write \(b)-\(a)") }
                guard b - a < UInt64(maxJobs) else {
                    throw FarmError(.invalidInput, "--seeds: range '\(raw)' has \(b - a + 1) seeds; at most \(maxJobs) jobs fit in one batch")
                }
                values = Array(a...b)
            default:
                throw FarmError(.invalidInput, "--seeds: '\(raw)' is neither a seed nor a range FIRST-LAST (negative seeds are not allowed)")
            }
            for v in values {
                guard seen.insert(v).inserted else { throw FarmError(.invalidInput, "--seeds: seed \(v) is listed more than once") }
                out.append(v)
            }
        }
        return out
    }

    /// `5,7.5` → [5, 7.5]; every value finite.
    public static func cfgScales(_ text: String) throws -> [Double] {
        try items(text, option: "--cfg-scale").map { raw in
            guard let v = Double(raw), v.isFinite else {
                throw FarmError(.invalidInput, "--cfg-scale: '\(raw)' is not a finite number, e.g. --cfg-scale 5,7.5")
            }
            return v
        }
    }

    /// `0.3,0.5,1` → strengths, each in (0, 1], no duplicates.
    public static func strengths(_ text: String) throws -> [Double] {
        var seen = Set<Double>()
        return try items(text, option: "--strength").map { raw in
            guard let v = Double(raw), v.isFinite, v > 0, v <= 1 else {
                throw FarmError(.invalidInput, "--strength: '\(raw)' is not a number greater than 0 and at most 1, e.g. --strength 0.5,0.75")
            }
            guard seen.insert(v).inserted else { throw FarmError(.invalidInput, "--strength: \(raw) is listed more than once") }
            return v
        }
    }

    /// `20,30` → [20, 30]; each in 1…1000.
    public static func steps(_ text: String) throws -> [Int] {
        try items(text, option: "--steps").map { raw in
            guard let v = Int(raw) else { throw FarmError(.invalidInput, "--steps: '\(raw)' is not a whole number, e.g. --steps 20,30") }
            guard (1...1000).contains(v) else { throw FarmError(.invalidInput, "--steps: \(v) is outside 1…1000") }
            return v
        }
    }

    /// `ddim,euler_a` → names, each one of `known`.
    public static func samplers(_ text: String, known: [String]) throws -> [String] {
        try items(text, option: "--sampler").map { raw in
            let name = raw.lowercased()
            guard known.contains(name) else {
                throw FarmError(.invalidInput, "--sampler: unknown sampler '\(raw)'; known samplers: \(known.joined(separator: ", "))")
            }
            return name
        }
    }

    /// `512x512,768x512` → sizes, each a positive multiple of 8 up to 4096.
    public static func sizes(_ text: String) throws -> [GridSpec.Size] {
        try items(text, option: "--size").map { raw in
            let parts = raw.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]) else {
                throw FarmError(.invalidInput, "--size: '\(raw)' is not WIDTHxHEIGHT, e.g. --size 512x512,768x512")
            }
            let size = GridSpec.Size(width: w, height: h)
            try validate(size: size, option: "--size")
            return size
        }
    }

    /// Checks one size.
    public static func validate(size: GridSpec.Size, option: String) throws {
        for (what, v) in [("width", size.width), ("height", size.height)] {
            guard v > 0, v % 8 == 0, v <= 4096 else {
                throw FarmError(.invalidInput, "\(option): \(what) \(v) in \(size) must be a positive multiple of 8 no larger than 4096")
            }
        }
    }

    /// One prompt per non-blank line; lines starting with `#` are comments.
    public static func prompts(file path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FarmError(.invalidInput, "--prompts: cannot read \(path): the file does not exist or is not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FarmError(.invalidInput, "--prompts: \(path) is not UTF-8 text")
        }
        let prompts = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !prompts.isEmpty else {
            throw FarmError(.invalidInput, "--prompts: \(path) has no prompts; write one prompt per line (blank lines and # comments are skipped)")
        }
        return prompts
    }

    private static func items(_ text: String, option: String) throws -> [String] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if let empty = parts.firstIndex(where: \.isEmpty) {
            throw FarmError(.invalidInput, "\(option): '\(text)' has an empty item at position \(empty + 1); separate values with single commas")
        }
        return parts
    }
}
