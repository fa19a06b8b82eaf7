import Diffusion
import RenderFormat
import Foundation
import Imaging
import Tensor
import Testing

/// Whole renders against `StableDiffusionPipeline` (diffusers 0.42.1, CPU, torch.Generator seeded):
/// every sampler, seeds 0 / 2³²−1 / 2³²+7 / 2⁶⁴−1, CFG on and off, negative prompts, non-square sizes,
/// both tokenizer layouts, fp32 and fp16 weights, epsilon and v-prediction.
/// Acceptance: per channel max |Δ| ≤ 3 and mean |Δ| ≤ 0.1 on 0–255.
@Suite("Renders match diffusers")
struct PipelineFixtureTests {
    struct Case: CustomStringConvertible, Sendable {
        let model: String, name: String, prompt: String, negative: String, seed: UInt64
        let steps: Int, sampler: String, cfg: Float, width: Int, height: Int
        var description: String { "\(model)/\(name) \(sampler) seed \(seed) \(width)x\(height) cfg \(cfg)" }
    }

    /// fp32 / fp16 / bf16 diffusers folders (both tokenizer layouts, eps and v-prediction, DDIM trailing
    /// and Euler leading configs) plus the original-layout fp16 single file.
    static let models = ["tiny-sd-a", "tiny-sd-b", "tiny-sd-c", "tiny-sd-sf"]

    static func modelPath(_ model: String) -> String {
        model == "tiny-sd-sf" ? Fixtures.path("models/tiny-sd-sf.safetensors") : Fixtures.path("models/\(model)")
    }

    static func reference(_ model: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("reference/\(model)/pipeline.safetensors"))
    }

    /// Every model's cases; throws (failing the test that takes them) when a model's list is missing or empty.
    static func cases() throws -> [Case] {
        try models.flatMap { model -> [Case] in
            try Fixtures.caseList("reference/\(model)/pipeline.json", key: "cases").map { c in
                Case(model: model, name: c["name"] as! String, prompt: c["prompt"] as! String, negative: c["negative_prompt"] as! String,
                     seed: UInt64(c["seed"] as! String)!, steps: c["steps"] as! Int, sampler: c["sampler"] as! String,
                     cfg: Float(c["cfg_scale"] as! Double), width: c["width"] as! Int, height: c["height"] as! Int)
            }
        }
    }

    static let pipelines: [String: StableDiffusionPipeline] = {
        var out: [String: StableDiffusionPipeline] = [:]
        for m in models {
            if let model = try? StableDiffusionModel.load(path: modelPath(m)) {
                out[m] = StableDiffusionPipeline(model: model)
            }
        }
        return out
    }()

    @Test("the final image is within 3 levels (max) and 0.1 (mean) of diffusers per channel", arguments: try cases())
    // Observed on the 14 cases: latents relative error ≤ 1e-5 except 2.7e-4 (tiny-sd-c DDIM, clip_sample on);
    // image max |Δ| ≤ 1 and mean |Δ| ≤ 0.021 per channel.
    func image(c: Case) throws {
        let pipeline = try #require(Self.pipelines[c.model])
        let request = RenderRequest(prompt: c.prompt, negativePrompt: c.negative, seed: c.seed, steps: c.steps,
                                    sampler: try SamplerKind(parsing: c.sampler), cfgScale: c.cfg, width: c.width, height: c.height)
        let latents = try pipeline.denoise(request)
        let ref = try Self.reference(c.model)
        let refLatents = try ref.tensor("\(c.name)_latents")
        let latentError = NetworkFixtureTests.relativeError(latents, refLatents)
        #expect(latentError < 1e-3, "latents relative error \(latentError)")
        let image = pipeline.decode(latents)
        let expected = try ref.rawBytes("\(c.name)_image")
        #expect(image.pixels.count == expected.count)
        let (maxDiff, mean) = imageDifference(image, expected)
        print("render \(c): latents \(latentError), image max \(maxDiff) mean \(mean)")
        #expect(maxDiff <= 3 && mean <= 0.1, "max \(maxDiff) mean \(mean)")
    }
}

@Suite("Single-file checkpoints")
struct SingleFileTests {
    @Test("the architecture of an original-layout single file is inferred from its tensor shapes")
    func inferredConfig() throws {
        let model = try StableDiffusionModel.load(path: PipelineFixtureTests.modelPath("tiny-sd-sf"))
        #expect(model.unet.config.blockOutChannels == [32, 64])
        #expect(model.unet.config.layersPerBlock == 1)
        #expect(model.unet.config.downHasAttention == [true, false])
        #expect(model.unet.config.upHasAttention == [false, true])
        #expect(model.unet.config.crossAttentionDim == 64)
        #expect(model.textEncoder.config.layers == 2 && model.textEncoder.config.hiddenSize == 64)
        #expect(model.vae.config.blockOutChannels == [32, 64])
        #expect(model.vaeFactor == 2)
    }
}

@Suite("Non-finite results")
struct NonFiniteResultTests {
    @Test("NaN and infinite pixels become black or clamped bytes instead of trapping the process")
    func nonFinitePixelsDoNotTrap() {
        let x = Tensor(shape: [1, 3, 1, 2], values: [.nan, .infinity, -.infinity, 0.5, .nan, -1])
        let image = StableDiffusionPipeline.toImage(x)
        #expect(image.pixels == [0, 0, 0, 255, 191, 0])  // planar channels: pixel 0 = (NaN, −inf, NaN), pixel 1 = (inf, 0.5, −1)
        #expect(!x.isFinite && Tensor(shape: [2], values: [1, 2]).isFinite)
    }
}
