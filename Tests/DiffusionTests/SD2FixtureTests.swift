import Diffusion
import Foundation
import RenderFormat
import Tensor
import Testing

/// Stable Diffusion 2.x in both layouts against diffusers 0.42.1 (sd2/ from tools/fixtures/make_fixtures.py --only sd2):
/// a diffusers folder (GELU text encoder one layer short, linear projections, 64-wide heads, upcast_attention,
/// '!' padding, SD 2.1's DDIM v-prediction file) and the same weights as an original-layout single file whose text
/// encoder is the OpenCLIP tower (`cond_stage_model.model.*`, fused `in_proj`, one resblock more). diffusers'
/// `from_single_file` renders that file bit for bit like the folder, so both are checked against the folder's renders.
/// Acceptance: per channel max |Δ| ≤ 3 and mean |Δ| ≤ 0.1.
@Suite("Stable Diffusion 2.x matches diffusers")
struct SD2FixtureTests {
    static let layouts = ["models/tiny-sd2", "models/tiny-sd2.safetensors"]
    static let pipelines: [String: StableDiffusionPipeline] = {
        var out: [String: StableDiffusionPipeline] = [:]
        for l in layouts { if let m = try? StableDiffusionModel.load(path: Fixtures.path(l)) { out[l] = StableDiffusionPipeline(model: m) } }
        return out
    }()

    struct Case: CustomStringConvertible, Sendable {
        let layout: String, name: String, prompt: String, negative: String, seed: UInt64, steps: Int, sampler: String, cfg: Float
        let width: Int, height: Int
        var description: String { "\((layout as NSString).lastPathComponent) \(name) \(sampler) cfg \(cfg)" }
    }

    static func cases() throws -> [Case] {
        let list = try Fixtures.caseList("sd2/cases.json", key: "cases")
        return layouts.flatMap { layout in
            list.map { c in
                Case(layout: layout, name: c["name"] as! String, prompt: c["prompt"] as! String, negative: c["negative_prompt"] as! String,
                     seed: UInt64(c["seed"] as! String)!, steps: c["steps"] as! Int, sampler: c["sampler"] as! String,
                     cfg: Float(c["cfg_scale"] as! Double), width: c["width"] as! Int, height: c["height"] as! Int)
            }
        }
    }

    @Test("both layouts render within 3 levels (max) and 0.1 (mean) of diffusers", arguments: try cases())
    // Observed on 3 renders × 2 layouts (identical per layout): latents relative error ≤ 8.3e-6, image max |Δ| ≤ 1,
    // mean |Δ| ≤ 0.003 per channel.
    func render(c: Case) throws {
        let pipeline = try #require(Self.pipelines[c.layout])
        let request = RenderRequest(prompt: c.prompt, negativePrompt: c.negative, seed: c.seed, steps: c.steps,
                                    sampler: try SamplerKind(parsing: c.sampler), cfgScale: c.cfg, width: c.width, height: c.height)
        try expectRenderMatchesReference(pipeline, request, reference: "sd2/pipeline.safetensors", name: c.name, label: "sd2 render \(c)")
    }

    @Test("the single file is read as SD 2.x: OpenCLIP penultimate layer, GELU, '!' padding, v-prediction, linear projections")
    func singleFileIsSD2() throws {
        let single = try #require(Self.pipelines["models/tiny-sd2.safetensors"]).model
        let folder = try #require(Self.pipelines["models/tiny-sd2"]).model
        #expect(single.textEncoder.config == folder.textEncoder.config)
        #expect(single.textEncoder.config.layers == 2 && single.textEncoder.config.activation == "gelu")
        #expect(single.tokenizer.padTokenID == 0 && single.tokenizer.tokenize("a cat!").ids.prefix(5) == [49406, 320, 2368, 0, 49407])
        #expect(single.schedulerConfig.predictionType == .vPrediction && single.unet.config.linearProjection)
        #expect(single.unet.config.heads == folder.unet.config.heads)
        #expect(single.unet.config.sampleSize == 96)
        let prompt = "a lighthouse on a cliff"
        let a = try Self.pipelines["models/tiny-sd2.safetensors"]!.encode(prompt)
        let b = try Self.pipelines["models/tiny-sd2"]!.encode(prompt)
        #expect(a.maxAbsDifference(b) == 0)
    }
}
