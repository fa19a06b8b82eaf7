import Diffusion
import Farm
import Foundation
import RenderFormat
import Testing
import TestSupport

/// The farm with the real Stable Diffusion renderer: workers render a grid on the tiny fixture model and
/// every output is byte-identical to `sdfarm render` with the same parameters.
@Suite("Farm with the Stable Diffusion renderer", .serialized)
struct DiffusionFarmTests {
    static let model = Harness.repo.appendingPathComponent("Tests/DiffusionTests/Fixtures/networks/net-a").path

    @Test("two diffusion workers render a grid once each, byte-identical to sdfarm render",
          .enabled(if: Harness.available))
    func gridMatchesLocalRenders() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let spec = GridSpec(model: Self.model, prompts: ["a red circle", "a blue square"], negativePrompt: "blurry", seeds: [0, 4_294_967_303],
                            cfgScales: [1, 7.5], steps: [3], samplers: [.ddim, .euler_a], sizes: [.init(width: 16, height: 16), .init(width: 24, height: 16)])
        let submission = try db.queue.submit(spec)
        #expect(submission.jobCount == 32)
        let workers = try (0..<2).map {
            try Harness.WorkerProcess(db, name: "sd-\($0)", lease: 10, extra: ["--renderer", "diffusion", "--exit-when-idle"])
        }
        for w in workers { #expect(w.wait(timeout: 240) == 0, "\(w.logText)") }
        #expect(try db.count("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == 32)
        let rows = try db.queue.db.query("SELECT id, output_path FROM jobs ORDER BY id").rows
        var outputs = Set<String>()
        for (index, row) in rows.enumerated() where index % 3 == 0 || index == rows.count - 1 {
            let path = try #require(row[1])
            outputs.insert(path)
            let job = try db.queue.job(Int64(row[0]!)!)
            let p = job.parameters
            let local = db.dir.appendingPathComponent("local-\(row[0]!).png").path
            let r = try Harness.renderLocally(p, output: local)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(FileManager.default.contents(atPath: path) == FileManager.default.contents(atPath: local), "job \(row[0]!)")
        }
        #expect(Set(rows.compactMap { $0[1] }).count == 32)
    }
}

/// Image-to-image and interpolation batches submitted with `sdfarm submit`, rendered by diffusion workers.
@Suite("Farm: image-to-image and interpolation batches", .serialized)
struct FarmKindsTests {
    static let rgba = Harness.repo.appendingPathComponent("Tests/DiffusionTests/Fixtures/reference/tiny-sd-a/init-rgba.png").path

    func submit(_ db: Harness.Database, _ args: [String], model: String? = nil) throws -> ProcessRunner.Result {
        try Harness.run("sdfarm", ["submit", "--database", db.url, "--model", model ?? db.model, "--json"] + args)
    }

    func runWorkers(_ db: Harness.Database, count: Int = 2) throws {
        let workers = try (0..<count).map {
            try Harness.WorkerProcess(db, name: "kind-\($0)", lease: 10, extra: ["--renderer", "diffusion", "--exit-when-idle"])
        }
        for w in workers { #expect(w.wait(timeout: 240) == 0, "\(w.logText)") }
    }

    @Test("an img2img batch: the init image is copied once into storage and every output equals sdfarm render",
          .enabled(if: Harness.available))
    func imageToImageBatch() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try submit(db, ["--prompt", "a red circle", "--init-image", Self.rgba, "--strength", "0.5,1", "--seeds", "1,2",
                                "--steps", "4", "--sampler", "euler_a", "--storage", db.storage])
        #expect(s.status == 0, "\(s.stderr)")
        let inputs = try FileManager.default.contentsOfDirectory(atPath: db.storage + "/inputs")
        #expect(inputs.count == 1)
        #expect(FileManager.default.contents(atPath: db.storage + "/inputs/" + inputs[0]) == FileManager.default.contents(atPath: Self.rgba))
        try runWorkers(db)
        let jobs = try db.queue.jobs(batch: 1)
        #expect(jobs.count == 4 && jobs.allSatisfy { $0.state == .succeeded && $0.parameters.kind.name == "img2img" })
        let strengths = jobs.map { job -> Double? in if case .img2img(_, let s) = job.parameters.kind { s } else { nil } }
        #expect(strengths == [0.5, 1.0, 0.5, 1.0])
        for job in jobs {
            let p = job.parameters
            let local = db.dir.appendingPathComponent("local-\(job.id).png").path
            let r = try Harness.run("sdfarm", ["render", "--model", p.model, "--prompt", p.prompt, "--seed", String(p.seed), "--steps", String(p.steps),
                                               "--sampler", p.sampler.rawValue, "--cfg-scale", String(p.cfgScale),
                                               "--init-image", db.storage + "/" + p.storedExtra["init_image"]!, "--strength", p.storedExtra["strength"]!,
                                               "--output", local])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(FileManager.default.contents(atPath: try #require(job.outputPath)) == FileManager.default.contents(atPath: local), "job \(job.id)")
        }
        let sheet = db.dir.appendingPathComponent("sheet.png").path
        let g = try Harness.run("sdfarm", ["grid", "1", "--database", db.url, "--output", sheet, "--cell", "16"])
        #expect(g.status == 0 && g.stdout.contains("2×2 cells"), "\(g.stdout) \(g.stderr)")
        let show = try Harness.run("sdfarm", ["show", String(jobs[0].id), "--database", db.url])
        #expect(show.stdout.contains("kind: img2img strength 0.5") && show.stdout.contains("init_image_sha256"), "\(show.stdout)")
    }

    @Test("an interpolation batch renders one job per frame in order, equal to sdfarm render --interpolate, and grids as a strip",
          .enabled(if: Harness.available))
    func interpolationBatch() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let s = try submit(db, ["--interpolate", "a red circle", "a blue square", "--frames", "5", "--seeds", "3", "--steps", "3",
                                "--sampler", "dpmpp_2m", "--size", "16x16"])
        #expect(s.status == 0, "\(s.stderr)")
        try runWorkers(db)
        let jobs = try db.queue.jobs(batch: 1).sorted { $0.cell < $1.cell }
        let frameNumbers = jobs.map { job -> Int? in if case .interpolation(let f) = job.parameters.kind { f.frame } else { nil } }
        #expect(frameNumbers == [0, 1, 2, 3, 4])
        #expect(jobs.allSatisfy { $0.state == .succeeded && $0.parameters.kind.name == "interpolate" })
        let frames = db.dir.appendingPathComponent("frames").path
        let r = try Harness.run("sdfarm", ["render", "--model", db.model, "--interpolate", "a red circle", "a blue square", "--frames", "5",
                                           "--seed", "3", "--steps", "3", "--sampler", "dpmpp_2m", "--width", "16", "--height", "16",
                                           "--output-dir", frames])
        #expect(r.status == 0, "\(r.stderr)")
        for (i, job) in jobs.enumerated() {
            let local = frames + "/frame-00\(i).png"
            #expect(FileManager.default.contents(atPath: try #require(job.outputPath)) == FileManager.default.contents(atPath: local), "frame \(i)")
        }
        let sheet = db.dir.appendingPathComponent("strip.png").path
        let g = try Harness.run("sdfarm", ["grid", "1", "--database", db.url, "--output", sheet, "--cell", "16"])
        #expect(g.status == 0 && g.stdout.contains("1×5 cells"), "\(g.stdout) \(g.stderr)")
        let status = try Harness.run("sdfarm", ["status", "1", "--database", db.url])
        #expect(status.stdout.contains("kinds: interpolate 5"), "\(status.stdout)")
    }

    @Test("an img2img job on a model without VAE encoder weights fails at its first attempt, not after every retry",
          .enabled(if: Harness.available))
    func imageToImageWithoutEncoderFailsAtOnce() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        // A copy of a tiny diffusers-folder model whose VAE file holds the decoder only (as some checkpoints ship).
        let model = db.dir.appendingPathComponent("decoder-only").path
        try FileManager.default.copyItem(atPath: Harness.repo.appendingPathComponent("Tests/DiffusionTests/Fixtures/models/tiny-sd-a").path,
                                         toPath: model)
        let vaePath = model + "/vae/diffusion_pytorch_model.safetensors"
        let full = try SafeTensorsFile(path: vaePath)
        let kept = try full.names.filter { !$0.hasPrefix("encoder.") && !$0.hasPrefix("quant_conv.") }.map { ($0, try full.tensor($0)) }
        #expect(kept.count < full.names.count)
        try FileManager.default.removeItem(atPath: vaePath)
        try SafeTensorsWriter.write(kept, to: vaePath)
        let s = try submit(db, ["--prompt", "a red circle", "--init-image", Self.rgba, "--strength", "0.5", "--steps", "4",
                                "--max-attempts", "3", "--storage", db.storage], model: model)
        #expect(s.status == 0, "\(s.stderr)")
        let worker = try Harness.WorkerProcess(db, name: "no-encoder", lease: 10,
                                               extra: ["--renderer", "diffusion", "--exit-when-idle"])
        #expect(worker.wait(timeout: 120) == 0, "\(worker.logText)")
        let job = try #require(try db.queue.jobs(batch: 1).first)
        #expect(job.state == .failed && job.attempts == 1, "\(job.state) after \(job.attempts) attempts")
        #expect(job.lastError?.contains("has no VAE encoder weights") == true, "\(job.lastError ?? "no error")")
    }

    @Test("bad image-to-image and interpolation submissions are refused before anything is queued or copied",
          .enabled(if: Harness.available))
    func badSubmissions() throws {
        let db = try Harness.Database()
        defer { db.drop() }
        let notPNG = db.dir.appendingPathComponent("photo.png").path
        FileManager.default.createFile(atPath: notPNG, contents: Data("\u{FF}\u{D8}\u{FF}jpeg".utf8))
        let cases: [([String], String)] = [
            (["--prompt", "x", "--init-image", Self.rgba, "--strength", "0", "--storage", db.storage], "--strength"),
            (["--prompt", "x", "--init-image", Self.rgba, "--strength", "1.2", "--storage", db.storage], "at most 1"),
            (["--prompt", "x", "--init-image", Self.rgba, "--strength", "0.1", "--steps", "4", "--storage", db.storage], "no denoising step"),
            (["--prompt", "x", "--init-image", Self.rgba, "--size", "32x32", "--storage", db.storage], "differs from the init image's 16x16"),
            (["--prompt", "x", "--init-image", notPNG, "--storage", db.storage], "not a PNG"),
            (["--prompt", "x", "--init-image", Self.rgba], "needs --storage"),
            (["--interpolate", "a", "b", "--frames", "1"], "--frames must be between 2"),
            (["--interpolate", "a", "b"], "needs --frames"),
            (["--interpolate", "a", "b", "--frames", "3", "--sampler", "heun"], "--sampler 'heun' is unknown"),
        ]
        for (args, message) in cases {
            let r = try submit(db, args)
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        #expect(try db.count("SELECT count(*) FROM jobs") == 0)
        #expect(!FileManager.default.fileExists(atPath: db.storage + "/inputs"))
    }
}
