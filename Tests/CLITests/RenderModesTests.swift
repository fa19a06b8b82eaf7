import Foundation
import Imaging
import Testing
import TestSupport

/// `sdfarm render --init-image` and `--interpolate`, run as a user would, against the tiny fixture model.
@Suite("sdfarm render: image-to-image and interpolation")
struct RenderModesTests {
    static let model = RenderCommandTests.model
    /// 16×16 RGBA fixture (alpha varies; the colour under transparent pixels is kept).
    static let rgba = RepositoryPaths.fixture("reference/tiny-sd-a/init-rgba.png")
    static let rgb24x16 = RepositoryPaths.fixture("reference/tiny-sd-a/init-rgb.png")

    func render(_ args: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.runBuilt("sdfarm", ["render", "--model", Self.model, "--steps", "3", "--seed", "5"] + args)
    }

    @Test("image-to-image takes the init image's size, records the strength, and differs by strength")
    func imageToImage() throws {
        let dir = try ScratchDirectory(prefix: "sdfarm-cli")
        defer { dir.remove() }
        var outputs: [Data] = []
        for strength in ["0.5", "1"] {
            let out = dir.path("i\(strength).png")
            let r = try render(["--prompt", "a red circle", "--sampler", "dpmpp_2m", "--init-image", Self.rgb24x16, "--strength", strength, "--output", out])
            #expect(r.status == 0, "\(r.stderr)")
            let png = try PNGCodec.read(path: out)
            #expect(png.image.width == 24 && png.image.height == 16)
            let text = try #require(png.text.first { $0.key == "parameters" }?.value)
            #expect(text.contains("Sampler: DPM++ 2M") && text.contains("Denoising strength: \(strength == "1" ? "1.0" : strength)"), "\(text)")
            outputs.append(try #require(FileManager.default.contents(atPath: out)))
        }
        #expect(outputs[0] != outputs[1])
        let rgba = try render(["--prompt", "x", "--init-image", Self.rgba, "--output", dir.path("a.png")])
        #expect(rgba.status == 0 && rgba.stdout.contains("strength 0.75"), "\(rgba.stderr)")
    }

    @Test("interpolation writes N frames that sort in order; the end frames equal plain renders of A and B")
    func interpolation() throws {
        let dir = try ScratchDirectory(prefix: "sdfarm-cli")
        defer { dir.remove() }
        let frames = dir.path("frames")
        let r = try render(["--interpolate", "a red circle", "a blue square", "--frames", "4", "--sampler", "pndm", "--output-dir", frames])
        #expect(r.status == 0, "\(r.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: frames).sorted()
        #expect(names == ["frame-000.png", "frame-001.png", "frame-002.png", "frame-003.png"])
        let images = try names.map { try PNGCodec.read(path: frames + "/" + $0) }
        #expect(images[1].text.first { $0.key == "parameters" }?.value.contains("Interpolation t: 0.3333333333333333") == true)
        #expect(Set(images.map(\.image.pixels)).count == 4)
        for (prompt, frame) in [("a red circle", 0), ("a blue square", 3)] {
            let plain = dir.path("plain\(frame).png")
            let p = try render(["--prompt", prompt, "--sampler", "pndm", "--output", plain])
            #expect(p.status == 0, "\(p.stderr)")
            #expect(try PNGCodec.read(path: plain).image == images[frame].image, "frame \(frame)")
        }
    }

    @Test("bad image-to-image and interpolation input is a clear error, a non-zero exit, and no file", arguments: [
        (["--prompt", "x", "--init-image", "INIT", "--strength", "0"], "strength must be greater than 0 and at most 1"),
        (["--prompt", "x", "--init-image", "INIT", "--strength", "1.5"], "strength must be greater than 0 and at most 1"),
        (["--prompt", "x", "--init-image", "INIT", "--strength", "0.2"], "leaves no denoising step"),
        (["--prompt", "x", "--init-image", "INIT", "--width", "24"], "--init-image is 16x16 but the render is 24x16"),
        (["--prompt", "x", "--init-image", "NOTPNG"], "is not a PNG file"),
        (["--prompt", "x", "--init-image", "/no/such.png"], "does not exist"),
        (["--prompt", "x", "--strength", "0.5"], "--strength only applies with --init-image"),
        (["--prompt", "x", "--sampler", "heun"], "known samplers: ddim, euler, euler_a, pndm, lms, dpmpp_2m, dpmpp_2m_karras, lcm"),
        (["--interpolate", "a", "b", "--frames", "1", "--output-dir", "DIR"], "--frames must be between 2 and 10000"),
        (["--interpolate", "a", "--frames", "3", "--output-dir", "DIR"], "exactly two prompts"),
        (["--interpolate", "a", "b", "--output-dir", "DIR"], "needs --frames"),
        (["--interpolate", "a", "b", "--frames", "3", "--output", "OUT"], "--output-dir"),
        (["--prompt", "x", "--frames", "3", "--output", "OUT"], "only apply with --interpolate"),
    ])
    func badInput(args: [String], message: String) throws {
        let dir = try ScratchDirectory(prefix: "sdfarm-cli")
        defer { dir.remove() }
        let inputs = try ScratchDirectory(prefix: "sdfarm-notpng")
        defer { inputs.remove() }
        let notPNG = inputs.path("notpng.png")
        _ = FileManager.default.createFile(atPath: notPNG, contents: Data("GIF89a".utf8))
        let substitutions = ["INIT": Self.rgba, "NOTPNG": notPNG, "DIR": dir.path("frames"),
                             "OUT": dir.path("x.png")]
        var full = args.map { substitutions[$0] ?? $0 }
        if !full.contains("--output") && !full.contains("--output-dir") { full += ["--output", dir.path("x.png")] }
        let r = try render(full)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
