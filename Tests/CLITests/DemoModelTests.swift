import Foundation
import Imaging
import Testing
import TestSupport

/// The committed demo model (weights/sdfarm-shapes, trained by tools/demo-model/train) loads in the engine and
/// draws what the prompt asks for: a fast smoke check of the weights, not the full evaluation
/// (tools/demo-model/evaluate scores 56 held-out prompts).
@Suite("demo model weights/sdfarm-shapes")
struct DemoModelTests {
    static let model = RepositoryPaths.weights.appendingPathComponent("sdfarm-shapes").path

    /// Mean colour of the 2-pixel border frame, and how many pixels inside it are red-ish (R > 140, G and B < 110).
    static func borderMeanAndRedPixels(_ image: RGBImage) -> (border: [Double], red: Int) {
        var border = [0.0, 0.0, 0.0], n = 0.0, red = 0
        for y in 0..<image.height {
            for x in 0..<image.width {
                let p = image[x, y]
                if x < 2 || y < 2 || x >= image.width - 2 || y >= image.height - 2 {
                    border[0] += Double(p.0); border[1] += Double(p.1); border[2] += Double(p.2)
                    n += 1
                } else if p.0 > 140 && p.1 < 110 && p.2 < 110 {
                    red += 1
                }
            }
        }
        return (border.map { $0 / n }, red)
    }

    @Test("'a red square on a blue background' renders a blue background around a red shape")
    func redSquareOnBlue() throws {
        let dir = try ScratchDirectory(prefix: "sdfarm-demo")
        defer { dir.remove() }
        let out = dir.path("demo.png")
        let r = try ProcessRunner.runBuilt("sdfarm", ["render", "--model", Self.model, "--prompt", "a red square on a blue background",
                                                "--seed", "1", "--steps", "40", "--sampler", "euler_a", "--cfg-scale", "7.5",
                                                "--width", "32", "--height", "32", "--output", out])
        #expect(r.status == 0, "\(r.stderr)")
        let image = try PNGCodec.read(path: out).image
        #expect(image.width == 32 && image.height == 32)
        let (border, red) = Self.borderMeanAndRedPixels(image)
        // Trained colours: blue (40, 70, 220), red (210, 30, 40); shapes are 12-20 px wide (>= 72 pixels).
        #expect(border[2] > 150 && border[2] > border[0] + 80 && border[2] > border[1] + 80, "border mean \(border)")
        #expect(red >= 40, "only \(red) red pixels inside the border")
    }
}
