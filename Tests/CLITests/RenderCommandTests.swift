import Foundation
import Imaging
import Testing
import TestSupport

/// `sdfarm render` and `sdfarm tokenize`, run as a user would, against the tiny fixture model.
@Suite("sdfarm render and tokenize")
struct RenderCommandTests {
    static let model = RepositoryPaths.fixture("networks/net-a")
    static let singleFile = RepositoryPaths.fixture("networks/net-sf.safetensors")

    @Test("render writes an RGB PNG at the model's default size with A1111 parameters")
    func renderWritesPNG() throws {
        let dir = try ScratchDirectory(prefix: "sdfarm-cli")
        defer { dir.remove() }
        let out = dir.path("a.png")
        let r = try ProcessRunner.runBuilt("sdfarm", ["render", "--model", Self.model, "--prompt", "a red circle", "--negative-prompt", "blur",
                                                "--seed", "42", "--steps", "3", "--sampler", "euler_a", "--cfg-scale", "7.5", "--output", out])
        #expect(r.status == 0, "\(r.stderr)")
        let png = try PNGCodec.read(path: out)
        #expect(png.image.width == 16 && png.image.height == 16)
        let text = try #require(png.text.first { $0.key == "parameters" }?.value)
        #expect(text.hasPrefix("a red circle\nNegative prompt: blur\nSteps: 3, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 16x16, Model hash: "))
        #expect(text.hasSuffix("Model: net-a"))
        // Same parameters, same bytes.
        let out2 = dir.path("b.png")
        _ = try ProcessRunner.runBuilt("sdfarm", ["render", "--model", Self.model, "--prompt", "a red circle", "--negative-prompt", "blur",
                                            "--seed", "42", "--steps", "3", "--sampler", "euler_a", "--output", out2])
        #expect(FileManager.default.contents(atPath: out) == FileManager.default.contents(atPath: out2))
    }

    @Test("without --seed a random seed is chosen and printed")
    func randomSeedPrinted() throws {
        let dir = try ScratchDirectory(prefix: "sdfarm-cli")
        defer { dir.remove() }
        let r = try ProcessRunner.runBuilt("sdfarm", ["render", "--model", Self.singleFile, "--prompt", "x", "--steps", "1", "--width", "16", "--height", "16",
                                                "--output", dir.path("s.png")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("seed: "))
    }

    @Test("bad input is a clear error, a non-zero exit, and no file", arguments: [
        (["--model", "/no/such/model"], "does not exist"),
        (["--sampler", "plms2"], "known samplers: ddim, euler, euler_a"),
        (["--width", "17"], "not a multiple of 2"),
        (["--width", "0"], "--width must be positive"),
        (["--height", "100000"], "too large"),
        (["--steps", "0"], "--steps must be between 1 and 1000"),
        (["--steps", "1001"], "--steps must be between 1 and 1000"),
        (["--cfg-scale", "inf"], "finite"),
        (["--prompt-syntax", "compel"], "--prompt-syntax 'compel' is unknown"),
        (["--prompt-syntax", "a1111", "--prompt", "(cat:1.2.3)"], "'1.2.3'"),
    ])
    func badInput(extra: [String], message: String) throws {
        let dir = try ScratchDirectory(prefix: "sdfarm-cli")
        defer { dir.remove() }
        let out = dir.path("x.png")
        var args = ["render", "--model", Self.model, "--prompt", "x", "--steps", "2", "--output", out]
        for k in stride(from: 0, to: extra.count, by: 2) {
            if let i = args.firstIndex(of: extra[k]) { args[i + 1] = extra[k + 1] } else { args += [extra[k], extra[k + 1]] }
        }
        let r = try ProcessRunner.runBuilt("sdfarm", args)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("an unwritable output directory and a pickle checkpoint are refused with an explanation")
    func unwritableAndPickle() throws {
        let r = try ProcessRunner.runBuilt("sdfarm", ["render", "--model", Self.model, "--prompt", "x", "--output", "/proc/nope/x.png"])
        #expect(r.status != 0 && r.stderr.contains("not writable"))
        let dir = try ScratchDirectory(prefix: "sdfarm-cli")
        defer { dir.remove() }
        let ckpt = dir.path("model.ckpt")
        _ = FileManager.default.createFile(atPath: ckpt, contents: Data([0x80, 0x02, 0x7D, 0x71, 0x00]))
        let p = try ProcessRunner.runBuilt("sdfarm", ["render", "--model", ckpt, "--prompt", "x", "--output", dir.path("x.png")])
        #expect(p.status != 0)
        #expect(p.stderr.lowercased().contains("pickle"), "\(p.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("x.png")))
    }

    @Test("tokenize --json prints 77 ids and the count before truncation, and says how many were dropped")
    func tokenize() throws {
        let r = try ProcessRunner.runBuilt("sdfarm", ["tokenize", "--json", "a photograph of an astronaut riding a horse"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let ids = try #require(json["ids"] as? [Int])
        #expect(ids.count == 77)
        #expect(Array(ids.prefix(10)) == [49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407])
        #expect(json["count"] as? Int == 10)
        let long = try ProcessRunner.runBuilt("sdfarm", ["tokenize", String(repeating: "word ", count: 100)])
        #expect(long.stdout.contains("tokens: 102 (25 dropped"))
    }
}
