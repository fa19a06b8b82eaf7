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
}
