import Diffusion
import Farm
import FarmDiffusion
import Foundation
import Imaging
import Logging
import RenderFormat
import TestSupport
import Testing

/// The seam between farm and engine, without processes or a database: the one job → request mapping, the
/// submit-time model checks, and the worker's renderer on the tiny fixture model.
@Suite("The farm–engine seam")
struct FarmDiffusionTests {
    static let fixtures = RepositoryPaths.fixtures
    static let model = fixtures.appendingPathComponent("models/tiny-sd-a").path
    static let initImage = fixtures.appendingPathComponent("reference/tiny-sd-a/init-rgba.png").path

    static func job(_ kind: JobKind = .txt2img, width: Int = 16, height: Int = 16) -> RenderParameters {
        RenderParameters(kind: kind, model: model, prompt: "a red circle", negativePrompt: "blurry", seed: 7, steps: 3,
                         sampler: .dpmpp_2m, cfgScale: 5.5, width: width, height: height)
    }

    @Test("a job maps to the engine request with every parameter, per kind")
    func jobsMapToRequests() throws {
        let plain = RenderRequest(job: Self.job(), initImage: nil)
        #expect(plain == RenderRequest(prompt: "a red circle", negativePrompt: "blurry", seed: 7, steps: 3, sampler: .dpmpp_2m,
                                       cfgScale: 5.5, width: 16, height: 16))
        let frame = RenderRequest(job: Self.job(.interpolation(InterpolationFrame(target: "a blue square", frame: 1, frames: 5, method: .lerp))),
                                  initImage: nil)
        #expect(frame.interpolation == PromptInterpolation(target: "a blue square", t: 0.25, linear: true))
        let picture = RGBImage(width: 16, height: 16, fill: (1, 2, 3))
        let input = try InitImageInput(sha256: String(repeating: "ab", count: 32))
        let img2img = RenderRequest(job: Self.job(.img2img(input, strength: 0.5)), initImage: picture)
        #expect(img2img.initImage == InitImage(image: picture, strength: 0.5))
        #expect(img2img.interpolation == nil)
        var a1111 = Self.job()
        a1111.promptSyntax = .a1111
        #expect(RenderRequest(job: a1111, initImage: nil).promptSyntax == .a1111 && plain.promptSyntax == .diffusers)
    }

    @Test("submit-time model checks read the model's config and name the input that does not fit it")
    func modelChecks() throws {
        try ModelChecks.validate(Self.job())
        #expect { try ModelChecks.validate(Self.job(width: 17)) } throws: { error in
            (error as? RenderFormatError)?.input == .width && "\(error)".contains("17")
        }
        var missing = Self.job()
        missing.model = "/nonexistent/model"
        #expect(throws: ModelError.self) { try ModelChecks.validate(missing) }
        var badWeight = Self.job()
        badWeight.promptSyntax = .a1111
        badWeight.negativePrompt = "(blurry:1..2)"
        #expect { try ModelChecks.validate(badWeight) } throws: { ($0 as? RenderFormatError)?.input == .negativePrompt }
        badWeight.promptSyntax = .diffusers
        try ModelChecks.validate(badWeight)
        var lcm = Self.job()
        lcm.sampler = .lcm
        lcm.steps = 51
        #expect { try ModelChecks.validate(lcm) } throws: { "\($0)".contains("original_inference_steps = 50") }
        lcm.steps = 4
        try ModelChecks.validate(lcm)
    }

    @Test("the worker's renderer gives exactly the engine's PNG for the mapped request, and reports progress")
    func rendererMatchesThePipeline() throws {
        let renderer = DiffusionJobRenderer(storage: NSTemporaryDirectory(), logger: Logger(label: "test"))
        var steps: [Int] = []
        let png = try renderer.render(Self.job()) { step, _ in steps.append(step); return true }
        let pipeline = try renderer.pipeline(for: Self.model)
        #expect(png == (try pipeline.renderPNG(RenderRequest(job: Self.job(), initImage: nil))))
        #expect(steps == [1, 2, 3])
        #expect(throws: RenderCancelled.self) { _ = try renderer.render(Self.job()) { step, _ in step < 2 } }
    }

    @Test("image-to-image inputs come only from their content address, and changed bytes fail the job for good")
    func initImagesComeFromStorage() throws {
        let scratch = try ScratchDirectory(prefix: "seam")
        defer { scratch.remove() }
        let storage = scratch.path
        let prepared = try InitImageStore.read(Self.initImage)
        let input = try InitImageInput(sha256: prepared.reference.sha256)
        let job = Self.job(.img2img(input, strength: 0.75))
        let renderer = DiffusionJobRenderer(storage: storage, logger: Logger(label: "test"))
        #expect { _ = try renderer.render(job) { _, _ in true } } throws: { ($0 as? FarmError)?.code == .io }
        try InitImageStore.store(prepared, storage: storage)
        #expect(FileManager.default.fileExists(atPath: storage + "/" + input.storagePath))
        let png = try renderer.render(job) { _, _ in true }
        let decoded = try PNGCodec.decode(png)
        #expect(decoded.text.first { $0.key == "parameters" }?.value.contains("Denoising strength: 0.75") == true)
        // Someone replaces the stored bytes: the job can never render what was submitted.
        let other = try Data(contentsOf: Self.fixtures.appendingPathComponent("reference/tiny-sd-a/init-rgb.png"))
        try other.write(to: URL(fileURLWithPath: storage + "/" + input.storagePath))
        #expect(throws: PermanentRenderError.self) { _ = try renderer.render(job) { _, _ in true } }
    }

    static let loraFolder = fixtures.appendingPathComponent("lora").path

    @Test("LoRAs on a worker: tags resolve in its folder; a LoRA missing there or outside it is a worker fault, not the job's")
    func lorasOnAWorker() throws {
        var tagged = Self.job()
        tagged.prompt = "<lora:kohya-locon:0.5> a red circle"
        let renderer = DiffusionJobRenderer(storage: NSTemporaryDirectory(), loraDirectory: Self.loraFolder, logger: Logger(label: "test"))
        let png = try renderer.render(tagged) { _, _ in true }
        let pipeline = try renderer.pipeline(for: Self.model)
        let explicit = RenderRequest(job: tagged, initImage: nil)
        var withLoRA = explicit
        withLoRA.loras = [LoRAReference(path: Self.loraFolder + "/kohya-locon.safetensors", weight: 0.5)]
        #expect(png == (try pipeline.renderPNG(withLoRA)))
        #expect(png != (try pipeline.renderPNG(explicit)))
        let text = try PNGCodec.decode(png).text.first { $0.key == "parameters" }?.value ?? ""
        #expect(text.contains("Lora hashes: \"kohya-locon: "), "\(text)")

        let empty = try ScratchDirectory(prefix: "loras")
        defer { empty.remove() }
        let elsewhere = DiffusionJobRenderer(storage: NSTemporaryDirectory(), loraDirectory: empty.path, logger: Logger(label: "test"))
        #expect(throws: WorkerFault.self) { _ = try elsewhere.render(tagged) { _, _ in true } }
        var explicitJob = Self.job()
        explicitJob.loras = [LoRAReference(path: Self.loraFolder + "/peft.safetensors", weight: 0.8)]
        #expect(throws: WorkerFault.self) { _ = try elsewhere.render(explicitJob) { _, _ in true } }
        let none = DiffusionJobRenderer(storage: NSTemporaryDirectory(), logger: Logger(label: "test"))
        #expect(throws: WorkerFault.self) { _ = try none.render(explicitJob) { _, _ in true } }
        _ = try renderer.render(explicitJob) { _, _ in true }
    }

    @Test("submit-time LoRA checks: the file must exist and fit the model, tags need the folder and a known name")
    func loraChecks() throws {
        var job = Self.job()
        job.loras = [LoRAReference(path: Self.loraFolder + "/kohya-locon.safetensors", weight: 1)]
        try ModelChecks.validate(job)
        var wrong = job
        wrong.model = Self.fixtures.appendingPathComponent("models/tiny-sd-b").path
        wrong.width = 32
        wrong.height = 32
        #expect { try ModelChecks.validate(wrong) } throws: { "\($0)".contains("another architecture") }
        var missing = Self.job()
        missing.loras = [LoRAReference(path: "/nonexistent/x.safetensors", weight: 1)]
        #expect { try ModelChecks.validate(missing) } throws: { ($0 as? RenderFormatError)?.input == .lora }
        var tagged = Self.job()
        tagged.prompt = "<lora:nope:0.5> a cat"
        #expect { try ModelChecks.validate(tagged, loraDirectory: Self.loraFolder) } throws: { "\($0)".contains("LoRA 'nope' is not in") }
        #expect { try ModelChecks.validate(tagged) } throws: { "\($0)".contains("--lora-dir") }
        tagged.prompt = "<lora:peft:0.5> a cat"
        try ModelChecks.validate(tagged, loraDirectory: Self.loraFolder)
    }
}
