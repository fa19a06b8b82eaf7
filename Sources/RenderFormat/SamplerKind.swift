/// The samplers the engine implements, by their diffusers-style names (the names jobs store and flags take).
public enum SamplerKind: String, CaseIterable, Sendable, Codable {
    case ddim
    case euler
    case euler_a
    /// PLMS: diffusers' `PNDMScheduler` with `skip_prk_steps`.
    case pndm
    case lms
    /// DPM-Solver++(2M).
    case dpmpp_2m
    /// DPM-Solver++(2M) with Karras σs.
    case dpmpp_2m_karras
    /// Latent Consistency Model sampling (diffusers' `LCMScheduler`), for LCM-distilled models and LCM-LoRA.
    case lcm

    /// The name AUTOMATIC1111's web UI writes in its parameters text.
    public var a1111Name: String {
        switch self {
        case .ddim: "DDIM"
        case .euler: "Euler"
        case .euler_a: "Euler a"
        case .pndm: "PLMS"
        case .lms: "LMS"
        case .dpmpp_2m: "DPM++ 2M"
        case .dpmpp_2m_karras: "DPM++ 2M Karras"
        case .lcm: "LCM"
        }
    }

    /// The diffusers scheduler class this sampler reproduces.
    public var diffusersClassName: String {
        switch self {
        case .ddim: "DDIMScheduler"
        case .euler: "EulerDiscreteScheduler"
        case .euler_a: "EulerAncestralDiscreteScheduler"
        case .pndm: "PNDMScheduler"
        case .lms: "LMSDiscreteScheduler"
        case .dpmpp_2m: "DPMSolverMultistepScheduler"
        case .dpmpp_2m_karras: "DPMSolverMultistepScheduler+karras"
        case .lcm: "LCMScheduler"
        }
    }

    /// Parses a sampler name: `ddim`, `euler`, `euler_a`, `pndm`, `lms`, `dpmpp_2m`, `dpmpp_2m_karras`, `lcm`
    /// (also with `-` for `_`, A1111's names such as "Euler a", "PLMS", "DPM++ 2M Karras", and the
    /// diffusers class names), case-insensitively.
    /// - Throws: `RenderFormatError.invalid(.sampler, …)` listing the known names.
    public init(parsing name: String) throws {
        let key = name.trimmingWhitespace().lowercased()
        for kind in Self.allCases {
            var spellings = [kind.rawValue, kind.rawValue.replacingUnderscores(with: "-"), kind.a1111Name.lowercased(),
                             kind.diffusersClassName.lowercased()]
            if kind == .pndm { spellings.append("plms") }
            if spellings.contains(key) { self = kind; return }
        }
        throw RenderFormatError.invalid(.sampler, Self.unknownMessage(name))
    }

    /// The exact name as jobs store it (`ddim`, `euler_a`, …; case-insensitive).
    /// - Throws: `RenderFormatError.invalid(.sampler, …)` listing the known names.
    public init(name: String) throws(RenderFormatError) {
        guard let kind = Self(rawValue: name.lowercased()) else { throw .invalid(.sampler, Self.unknownMessage(name)) }
        self = kind
    }

    /// The known names, comma-separated.
    public static var knownNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    static func unknownMessage(_ name: String) -> String {
        "'\(name)' is unknown; known samplers: \(knownNames)"
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars.drop { $0.properties.isWhitespace }
        var view = String.UnicodeScalarView(scalars)
        while let last = view.last, last.properties.isWhitespace { view.removeLast() }
        return String(view)
    }

    fileprivate func replacingUnderscores(with replacement: Character) -> String {
        String(map { $0 == "_" ? replacement : $0 })
    }
}
