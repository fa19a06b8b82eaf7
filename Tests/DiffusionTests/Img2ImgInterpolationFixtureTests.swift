import Diffusion
import RenderFormat
import Foundation
import Imaging
import Tensor
import Testing
import TestSupport

/// Per-channel max and mean |Δ| of an image against diffusers' uint8 reference.
func imageDifference(_ image: RGBImage, _ expected: UnsafeRawBufferPointer) -> (max: Int, mean: Double) {
    var maxDiff = [0, 0, 0], sum = [0, 0, 0]
    for i in 0..<min(image.pixels.count, expected.count) {
        let d = abs(Int(image.pixels[i]) - Int(expected[i]))
        maxDiff[i % 3] = max(maxDiff[i % 3], d)
        sum[i % 3] += d
    }
    let n = Double(image.width * image.height)
    return (maxDiff.max() ?? 0, sum.map { Double($0) / n }.max() ?? 0)
}

/// Image-to-image against `StableDiffusionImg2ImgPipeline` and prompt-interpolation frames against
/// `StableDiffusionPipeline` fed the same slerped `prompt_embeds` (diffusers 0.42.1; fixtures from
/// tools/fixtures/make_fixtures.py). Acceptance as for text-to-image: per channel max |Δ| ≤ 3, mean ≤ 0.1.
@Suite("Image-to-image and interpolation match diffusers")
struct Img2ImgInterpolationFixtureTests {
    struct Img2ImgCase: CustomStringConvertible, Sendable {
        let model: String, name: String, prompt: String, negative: String, seed: UInt64, steps: Int, sampler: String
        let cfg: Float, strength: Double, width: Int, height: Int, initImage: String, timesteps: [Float]
        var description: String { "\(model)/\(name) \(sampler) strength \(strength) \(steps) steps \((initImage as NSString).lastPathComponent)" }
    }
    struct InterpolationCase: CustomStringConvertible, Sendable {
        let model: String, name: String, promptA: String, promptB: String, negative: String, t: Double, lerp: Bool
        let seed: UInt64, steps: Int, sampler: String, cfg: Float, width: Int, height: Int
        var description: String { "\(model)/\(name) \(lerp ? "lerp" : "slerp") t \(t) \(sampler)" }
    }

    /// The image-to-image cases of every model that has them; throws (failing the test that takes them) when
    /// a model's pipeline.json is missing or no model has any.
    static func img2imgCases() throws -> [Img2ImgCase] {
        try Fixtures.nonEmpty(PipelineFixtureTests.models.flatMap { model -> [Img2ImgCase] in
            (try Fixtures.jsonObject("reference/\(model)/pipeline.json")["img2img"] as? [[String: Any]] ?? []).map { c in
                Img2ImgCase(model: model, name: c["name"] as! String, prompt: c["prompt"] as! String, negative: c["negative_prompt"] as! String,
                            seed: UInt64(c["seed"] as! String)!, steps: c["steps"] as! Int, sampler: c["sampler"] as! String,
                            cfg: Float(c["cfg_scale"] as! Double), strength: c["strength"] as! Double, width: c["width"] as! Int,
                            height: c["height"] as! Int, initImage: c["init_image"] as! String,
                            timesteps: (c["timesteps"] as! [Double]).map(Float.init))
            }
        }, "reference/*/pipeline.json", key: "img2img")
    }

    /// The interpolation cases of every model that has them; throws (failing the test that takes them) when
    /// a model's pipeline.json is missing or no model has any.
    static func interpolationCases() throws -> [InterpolationCase] {
        try Fixtures.nonEmpty(PipelineFixtureTests.models.flatMap { model -> [InterpolationCase] in
            (try Fixtures.jsonObject("reference/\(model)/pipeline.json")["interpolation"] as? [[String: Any]] ?? []).map { c in
                InterpolationCase(model: model, name: c["name"] as! String, promptA: c["prompt_a"] as! String, promptB: c["prompt_b"] as! String,
                                  negative: c["negative_prompt"] as! String, t: c["t"] as! Double, lerp: c["lerp"] as! Bool,
                                  seed: UInt64(c["seed"] as! String)!, steps: c["steps"] as! Int, sampler: c["sampler"] as! String,
                                  cfg: Float(c["cfg_scale"] as! Double), width: c["width"] as! Int, height: c["height"] as! Int)
            }
        }, "reference/*/pipeline.json", key: "interpolation")
    }

    @Test("image-to-image: start latents, final latents and image match diffusers", arguments: try img2imgCases())
    // Observed: see the printed line per case (start latents, final latents relative error, image max/mean).
    func img2img(c: Img2ImgCase) throws {
        let pipeline = try #require(PipelineFixtureTests.pipelines[c.model])
        let initImage = try InitImage.load(path: Fixtures.path(c.initImage), strength: c.strength)
        let request = RenderRequest(prompt: c.prompt, negativePrompt: c.negative, seed: c.seed, steps: c.steps,
                                    sampler: try SamplerKind(parsing: c.sampler), cfgScale: c.cfg, width: c.width, height: c.height,
                                    initImage: initImage)
        let ref = try PipelineFixtureTests.reference(c.model)
        let (start, first) = try pipeline.startingLatents(request)
        let scheduler = try makeScheduler(request.sampler, config: pipeline.model.schedulerConfig, steps: c.steps)
        #expect(Array(scheduler.timesteps[first...]) == c.timesteps, "timesteps run")
        let startError = NetworkFixtureTests.relativeError(start, try ref.tensor("\(c.name)_init_latents"))
        #expect(startError < 1e-4, "start latents relative error \(startError)")
        try Self.checkRender(request, pipeline: pipeline, reference: ref, name: c.name, label: "img2img \(c): start \(startError)")
    }

    /// Denoises `request` and compares the final latents (relative error < 1e-3) and the image (max ≤ 3, mean ≤ 0.1).
    static func checkRender(_ request: RenderRequest, pipeline: StableDiffusionPipeline, reference ref: SafeTensorsFile,
                            name: String, label: String) throws {
        let latents = try pipeline.denoise(request)
        let latentError = NetworkFixtureTests.relativeError(latents, try ref.tensor("\(name)_latents"))
        #expect(latentError < 1e-3, "latents relative error \(latentError)")
        let (maxDiff, mean) = imageDifference(pipeline.decode(latents), try ref.rawBytes("\(name)_image"))
        print("\(label), latents \(latentError), image max \(maxDiff) mean \(mean)")
        #expect(maxDiff <= 3 && mean <= 0.1, "max \(maxDiff) mean \(mean)")
    }

    @Test("interpolation frames: conditioning and image match diffusers fed the same embeddings", arguments: try interpolationCases())
    func interpolation(c: InterpolationCase) throws {
        let pipeline = try #require(PipelineFixtureTests.pipelines[c.model])
        let request = RenderRequest(prompt: c.promptA, negativePrompt: c.negative, seed: c.seed, steps: c.steps,
                                    sampler: try SamplerKind(parsing: c.sampler), cfgScale: c.cfg, width: c.width, height: c.height,
                                    interpolation: PromptInterpolation(target: c.promptB, t: c.t, linear: c.lerp))
        let ref = try PipelineFixtureTests.reference(c.model)
        let embeds = try pipeline.conditioning(for: request)
        let embedError = NetworkFixtureTests.relativeError(embeds, try ref.tensor("\(c.name)_embeds"))
        #expect(embedError < 1e-4, "embedding relative error \(embedError)")
        try Self.checkRender(request, pipeline: pipeline, reference: ref, name: c.name, label: "interpolation \(c): embeds \(embedError)")
    }

    @Test("the end frames of an interpolation are exactly the plain renders of A and B")
    func endFramesArePlainRenders() throws {
        let pipeline = try #require(PipelineFixtureTests.pipelines["tiny-sd-a"])
        let base = RenderRequest(prompt: "a red circle", seed: 11, steps: 3, sampler: .euler_a, cfgScale: 7.5, width: 16, height: 16)
        for (t, plainPrompt) in [(0.0, "a red circle"), (1.0, "a green square")] {
            for linear in [false, true] {
                var frame = base
                frame.interpolation = PromptInterpolation(target: "a green square", t: t, linear: linear)
                var plain = base
                plain.prompt = plainPrompt
                #expect(pipeline.decode(try pipeline.denoise(frame)) == pipeline.decode(try pipeline.denoise(plain)), "t \(t) linear \(linear)")
            }
        }
    }

    @Test("slerp follows the great circle; nearly parallel embeddings fall back to lerp")
    func slerpProperties() throws {
        let a = Tensor(shape: [1, 2, 2], values: [1, 0, 0, 0]), b = Tensor(shape: [1, 2, 2], values: [0, 1, 0, 0])
        let mid = EmbeddingInterpolation.interpolate(a, b, t: 0.5)
        #expect(abs(mid.scalars[0] - Float(0.5.squareRoot())) < 1e-6 && abs(mid.scalars[1] - Float(0.5.squareRoot())) < 1e-6)
        let linear = EmbeddingInterpolation.interpolate(a, b, t: 0.5, linear: true)
        #expect(linear.scalars == [0.5, 0.5, 0, 0])
        let near = Tensor(shape: [1, 2, 2], values: [1, 0.01, 0, 0])
        #expect(EmbeddingInterpolation.cosine(a, near) > EmbeddingInterpolation.parallelThreshold)
        #expect(EmbeddingInterpolation.interpolate(a, near, t: 0.5).scalars == [1, 0.005, 0, 0])
    }

    @Test("bad image-to-image inputs give errors that name the problem")
    func badInputs() throws {
        for s in [0.0, -0.5, 1.5, .nan] {
            #expect { try RenderLimits.validate(strength: s, steps: 10) } throws: { "\($0)".contains("strength") }
        }
        #expect { try RenderLimits.validate(strength: 0.05, steps: 10) } throws: { "\($0)".contains("no denoising step") }
        let inputs = try ScratchDirectory(prefix: "sdfarm-not-a-png")
        defer { inputs.remove() }
        let notPNG = inputs.path("not-a-png.png")
        _ = FileManager.default.createFile(atPath: notPNG, contents: Data("hello".utf8))
        #expect { _ = try InitImage.load(path: notPNG, strength: 0.5) } throws: { "\($0)".contains("not a PNG") }
        #expect { _ = try InitImage.load(path: "/nonexistent/x.png", strength: 0.5) } throws: { "\($0)".contains("does not exist") }
        let image = try InitImage.load(path: Fixtures.path("reference/tiny-sd-a/init-rgba.png"), strength: 0.5)
        var request = RenderRequest(prompt: "x", seed: 1, steps: 4, sampler: .ddim, cfgScale: 7.5, width: 24, height: 16, initImage: image)
        #expect { try request.validate(vaeFactor: 2) } throws: { "\($0)".contains("16x16") && "\($0)".contains("24x16") }
        request.width = 16
        try request.validate(vaeFactor: 2)
    }
}
