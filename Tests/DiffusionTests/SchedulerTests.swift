import Foundation
import Testing
import Diffusion
import RenderFormat
import Tensor

/// Scheduler fixtures from tools/fixtures/make_fixtures.py (diffusers 0.42.1, torch 2.13.0+cpu):
/// tiny-sd-a is SD 1.5's PNDM file (no timestep_spacing), tiny-sd-b DDIM trailing + v_prediction,
/// tiny-sd-c Euler leading with steps_offset 1 (so DDIM built from it takes DDIM's own clip_sample and
/// set_alpha_to_one defaults, both true).
@Suite struct SchedulerTests {
    struct Case: Decodable {
        let config: String
        let sampler: String
        let steps: Int
        let timesteps: [Double]
        let init_noise_sigma: Double
        let sigmas: [Double]?
        let alphas_cumprod: [Double]?
        let final_alpha_cumprod: Double?
    }
    struct Cases: Decodable { let cases: [Case] }

    static func configs() throws -> [String: SchedulerConfig] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.required("schedulers/cases.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let configs = try #require(root["configs"] as? [String: [String: Any]])
        return try configs.mapValues { try config($0) }
    }

    static func config(_ json: [String: Any]) throws -> SchedulerConfig {
        try SchedulerConfig(json: JSONSerialization.data(withJSONObject: json))
    }

    static func cases() throws -> [Case] {
        let cases = try Fixtures.decode(Cases.self, "schedulers/cases.json").cases
        try #require(!cases.isEmpty, "schedulers/cases.json lists no cases")
        return cases
    }

    @Test("timesteps, sigmas and initial noise match diffusers for every case")
    func timestepsSigmasAndInitialNoiseMatchDiffusersForEveryCase() throws {
        // Observed: timesteps identical; ᾱ bit-identical (betas via FMA linspace, cumprod in double);
        // sigmas worst relative Δ 1.16e-7 — one float32 ulp in some entries of the σ table, where torch's
        // vectorised `** 0.5` (not a correctly rounded sqrt) differs from ours; init_noise_sigma within 1e-6.
        let configs = try Self.configs()
        var worstSigma = 0.0, worstAlpha = 0.0
        for c in try Self.cases() {
            let config = try #require(configs[c.config])
            let kind = try SamplerKind(parsing: c.sampler)
            let scheduler = try makeScheduler(kind, config: config, steps: c.steps)
            let label = "\(c.config) \(c.sampler) \(c.steps)"
            #expect(scheduler.timesteps.map(Double.init) == c.timesteps.map { Double(Float($0)) }, "\(label) timesteps")
            #expect(abs(Double(scheduler.initNoiseSigma) - c.init_noise_sigma) <= 1e-6 * c.init_noise_sigma, "\(label) init_noise_sigma \(scheduler.initNoiseSigma) vs \(c.init_noise_sigma)")
            if let expected = c.sigmas {
                let sigmas: [Float]
                switch scheduler {
                case let s as EulerDiscreteScheduler: sigmas = s.sigmas
                case let s as EulerAncestralDiscreteScheduler: sigmas = s.sigmas
                case let s as LMSDiscreteScheduler: sigmas = s.sigmas
                case let s as DPMSolverMultistepScheduler: sigmas = s.sigmas
                default: Issue.record("\(label): no sigmas"); continue
                }
                #expect(sigmas.count == expected.count, "\(label) sigma count")
                for (a, b) in zip(sigmas, expected) { worstSigma = max(worstSigma, abs(Double(a) - b) / max(b, 1e-12)) }
            }
            if let expected = c.final_alpha_cumprod, let ddim = scheduler as? DDIMScheduler {
                #expect(Double(ddim.finalAlphaCumprod) == expected, "\(label) final ᾱ")
            }
            if let expected = c.final_alpha_cumprod, let pndm = scheduler as? PNDMScheduler {
                #expect(Double(pndm.finalAlphaCumprod) == expected, "\(label) final ᾱ")
            }
            if let expected = c.alphas_cumprod, let ddim = scheduler as? DDIMScheduler {
                for (t, b) in zip(ddim.trainingTimesteps, expected) { worstAlpha = max(worstAlpha, abs(Double(ddim.alphasCumprod[t]) - b) / b) }
            }
        }
        #expect(worstSigma <= 1e-6, "worst sigma relative Δ \(worstSigma)")
        #expect(worstAlpha == 0, "worst ᾱ relative Δ \(worstAlpha)")
        #expect(worstAlpha <= 1e-6, "worst ᾱ relative Δ \(worstAlpha)")
    }

    @Test("four-step trajectories with fake model outputs match diffusers", arguments: ["tiny-sd-a", "tiny-sd-b", "tiny-sd-c"], SamplerKind.allCases.filter { $0 != .lcm })
    func fourStepTrajectoriesWithFakeModelOutputsMatchDiffusers(config name: String, sampler: SamplerKind) throws {
        // Relative Δ = |Δ| / max(|ref|, 1). Observed (x86-64, this machine), worst relative / max |Δ|:
        // tiny-sd-a ddim 6.2e-7 / 2.9e-6, euler 2.4e-7 / 3.8e-6, euler_a 3.0e-7 / 3.8e-6 (includes the RNG's
        // last-bit differences × σ_up); tiny-sd-b (v_prediction, trailing) ddim 4.9e-7 / 4.9e-7,
        // euler 1.2e-7 / 2.4e-7, euler_a 2.4e-7 / 9.5e-7; tiny-sd-c ddim 2.4e-7 / 2.4e-7, euler 0 (identical),
        // euler_a 2.6e-7 / 9.5e-7. PLMS, LMS and DPM++ are recorded by the 7-step test below.
        try checkTrajectory(config: name, sampler: sampler, steps: 4, key: "\(name)_\(sampler.rawValue)")
    }

    @Test("seven-step multistep trajectories match diffusers", arguments: ["tiny-sd-a", "tiny-sd-b", "tiny-sd-c"],
          [SamplerKind.pndm, .lms, .dpmpp_2m, .dpmpp_2m_karras])
    func sevenStepMultistepTrajectoriesMatchDiffusers(config name: String, sampler: SamplerKind) throws {
        // Seven steps exercise the multistep histories: PLMS's repeated first timestep and 4-deep ets list,
        // LMS's order-4 coefficients (integrated exactly here, by scipy's quad in diffusers), DPM++'s first-
        // and last-step first-order updates around second-order midpoint steps.
        try checkTrajectory(config: name, sampler: sampler, steps: 7, key: "\(name)_\(sampler.rawValue)_n7")
    }

    func checkTrajectory(config name: String, sampler: SamplerKind, steps: Int, key: String) throws {
        let config = try #require(try Self.configs()[name])
        let file = try SafeTensorsFile(path: Fixtures.required("schedulers/steps.safetensors"))
        var scheduler = try makeScheduler(sampler, config: config, steps: steps)
        var noise = TorchGenerator(seed: 1234)
        var x = try file.tensor("\(key)_in_0")
        var worst: Float = 0, worstAbs: Float = 0
        func compare(_ ours: Tensor, _ reference: Tensor, _ what: String) {
            #expect(ours.shape == reference.shape, "\(what) shape")
            for (a, b) in zip(ours.scalars, reference.scalars) {
                worst = max(worst, abs(a - b) / max(abs(b), 1))
                worstAbs = max(worstAbs, abs(a - b))
            }
        }
        for k in 0..<scheduler.timesteps.count {
            compare(scheduler.scaleModelInput(x, stepIndex: k), try file.tensor("\(key)_scaled_\(k)"), "scaled \(k)")
            x = scheduler.step(modelOutput: try file.tensor("\(key)_eps_\(k)"), stepIndex: k, sample: x, generator: &noise)
            compare(x, try file.tensor("\(key)_out_\(k)"), "out \(k)")
        }
        print("trajectory \(key): worst relative Δ \(worst), max |Δ| \(worstAbs)")
        #expect(worst <= 1e-5, "\(key): worst relative Δ \(worst), max |Δ| \(worstAbs)")
    }

    @Test("single-file checkpoints get SD 1.5 defaults with class-specific spacing")
    func singleFileCheckpointsGetSD15DefaultsWithClassSpecificSpacing() throws {
        let config = SchedulerConfig.stableDiffusion15
        #expect(config.timestepSpacing == nil)
        let ddim = try makeScheduler(.ddim, config: config, steps: 10)
        #expect(ddim.timesteps.first == 901 && ddim.timesteps.last == 1)  // leading + steps_offset 1
        let euler = try makeScheduler(.euler, config: config, steps: 10)
        #expect(euler.timesteps.first == 999 && euler.timesteps.last == 0)  // linspace
    }

    @Test("keys diffusers recorded as defaults count as absent")
    func keysDiffusersRecordedAsDefaultsCountAsAbsent() throws {
        let json: [String: Any] = ["timestep_spacing": "leading", "_use_default_values": ["timestep_spacing"],
                                   "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012]
        let config = try Self.config(json)
        #expect(config.timestepSpacing == nil)
        #expect(try makeScheduler(.euler, config: config, steps: 5).timesteps.first == 999)
        var stated = config
        stated.timestepSpacing = .leading
        #expect(try makeScheduler(.euler, config: stated, steps: 5).timesteps.first == 800)
    }

    @Test("bad step counts and configs give clear errors")
    func badStepCountsAndConfigsGiveClearErrors() throws {
        for steps in [0, -1, 1001] {
            #expect { _ = try makeScheduler(.ddim, config: .stableDiffusion15, steps: steps) } throws: { error in
                (error as? SchedulerError)?.code == .invalidSteps && "\(error)".contains("1000")
            }
        }
        #expect { _ = try Self.config(["prediction_type": "x0"]) } throws: { ($0 as? SchedulerError)?.code == .invalidConfig }
        #expect { _ = try Self.config(["beta_start": "small"]) } throws: { "\($0)".contains("beta_start") }
        #expect { _ = try Self.config(["timestep_spacing": "random"]) } throws: { "\($0)".contains("trailing") }
        #expect { _ = try SchedulerConfig.load(path: "/nonexistent/scheduler_config.json") } throws: { ($0 as? SchedulerError)?.code == .unreadable }
    }

    @Test("a value only one sampler reads is rejected by that sampler alone, and file errors name the file and key")
    func aValueOnlyOneSamplerReadsIsRejectedByThatSamplerAloneAndFileErrorsNameFileAndKey() throws {
        // UniPC's solver_type and a log-linear interpolation: DDIM ignores them, DPM++ and Euler refuse.
        let config = try Self.config(["solver_type": "bh2", "interpolation_type": "log_linear"])
        #expect(config.solverType == .midpoint && config.unsupportedValues == ["solver_type": "bh2", "interpolation_type": "log_linear"])
        _ = try makeScheduler(.ddim, config: config, steps: 5)
        #expect { _ = try makeScheduler(.dpmpp_2m, config: config, steps: 5) } throws: {
            "\($0)" == "solver_type: solver_type 'bh2' is not supported; use midpoint or heun"
        }
        #expect { _ = try makeScheduler(.euler, config: config, steps: 5) } throws: { "\($0)".contains("interpolation_type 'log_linear'") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scheduler-\(UUID().uuidString).json").path
        try Data(#"{"prediction_type": "x0"}"#.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { _ = try SchedulerConfig.load(path: path) } throws: {
            "\($0)" == "\(path): prediction_type: prediction_type 'x0' is not supported; use epsilon, v_prediction or sample"
        }
    }

    @Test("sampler names parse in several spellings, and unknown ones list the known")
    func samplerNamesParseInSeveralSpellingsAndUnknownOnesListTheKnown() throws {
        #expect(try SamplerKind(parsing: "euler_a") == .euler_a)
        #expect(try SamplerKind(parsing: "Euler a") == .euler_a)
        #expect(try SamplerKind(parsing: "EULER-A") == .euler_a)
        #expect(try SamplerKind(parsing: " ddim ") == .ddim)
        #expect(try SamplerKind(parsing: "EulerDiscreteScheduler") == .euler)
        #expect(SamplerKind.euler_a.a1111Name == "Euler a" && SamplerKind.ddim.a1111Name == "DDIM")
        #expect(try SamplerKind(parsing: "PLMS") == .pndm && SamplerKind.pndm.a1111Name == "PLMS")
        #expect(try SamplerKind(parsing: "DPM++ 2M Karras") == .dpmpp_2m_karras && SamplerKind.dpmpp_2m_karras.a1111Name == "DPM++ 2M Karras")
        #expect(try SamplerKind(parsing: "dpmpp-2m") == .dpmpp_2m && SamplerKind.dpmpp_2m.a1111Name == "DPM++ 2M")
        #expect(try SamplerKind(parsing: "lms") == .lms && SamplerKind.lms.a1111Name == "LMS")
        #expect { _ = try SamplerKind(parsing: "dpm++") } throws: { error in
            let text = "\(error)"
            return text.contains("dpm++") && text.contains("ddim, euler, euler_a")
        }
    }

    @Test("Euler ancestral draws one noise tensor per step, including the last")
    func eulerAncestralDrawsOneNoiseTensorPerStepIncludingTheLast() throws {
        var scheduler = try makeScheduler(.euler_a, config: .stableDiffusion15, steps: 3)
        var g = TorchGenerator(seed: 9), reference = TorchGenerator(seed: 9)
        var x = Tensor(zeros: [1, 4, 2, 2])
        for k in 0..<3 { x = scheduler.step(modelOutput: Tensor(zeros: [1, 4, 2, 2]), stepIndex: k, sample: x, generator: &g) }
        for _ in 0..<3 { _ = reference.randn([1, 4, 2, 2]) }
        #expect(g.randnFloats(count: 20) == reference.randnFloats(count: 20))
    }
}

extension SchedulerTests {
    @Test("Karras sigmas span the same range with ρ = 7 spacing and map back to timesteps")
    func karrasSigmasSpanTheSameRangeWithRhoSevenSpacingAndMapBackToTimesteps() throws {
        var config = SchedulerConfig.stableDiffusion15
        let plain = try #require(try makeScheduler(.euler, config: config, steps: 10) as? EulerDiscreteScheduler)
        config.useKarrasSigmas = true
        let karras = try #require(try makeScheduler(.euler, config: config, steps: 10) as? EulerDiscreteScheduler)
        #expect(karras.sigmas.count == 11 && karras.sigmas.last == 0)
        #expect(abs(karras.sigmas[0] - plain.sigmas[0]) <= 1e-5 * plain.sigmas[0])
        #expect(abs(karras.sigmas[9] - plain.sigmas[9]) <= 1e-5 * plain.sigmas[9])
        // ρ = 7: σ^(1/7) is evenly spaced.
        let roots = karras.sigmas.prefix(10).map { pow(Double($0), 1.0 / 7) }
        let gaps = zip(roots, roots.dropFirst()).map { $0 - $1 }
        #expect(gaps.allSatisfy { abs($0 - gaps[0]) < 1e-5 })
        #expect(abs(karras.timesteps[0] - 999) < 1e-3 && abs(karras.timesteps[9]) < 1e-3)
        #expect(zip(karras.timesteps, karras.timesteps.dropFirst()).allSatisfy { $0 > $1 })
        // Euler a ignores the key, as diffusers' class does.
        #expect(try makeScheduler(.euler_a, config: config, steps: 10).timesteps == plain.timesteps)
    }
}
