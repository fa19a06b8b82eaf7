import Foundation
import Imaging
public import RenderFormat

/// STAND-IN, NOT STABLE DIFFUSION: draws a deterministic test pattern from the render parameters so the
/// queue, worker and CLI can be tested and benchmarked without a model. Same parameters ⇒ same bytes.
///
/// It sleeps `secondsPerStep` per step and calls `progress` after every step, like the real pipeline.
/// The PNG carries the parameters in the A1111 `parameters` text chunk (the one writer, `GenerationParameters`),
/// with `Model: test-pattern`.
public final class TestPatternRenderer: JobRenderer {
    public let secondsPerStep: Double

    public init(secondsPerStep: Double = 0) {
        self.secondsPerStep = secondsPerStep
    }

    public func render(_ p: RenderParameters, progress: (Int, Int) -> Bool) throws -> [UInt8] {
        for step in 1...max(1, p.steps) {
            if secondsPerStep > 0 { Thread.sleep(forTimeInterval: secondsPerStep) }
            if !progress(step, p.steps) { throw RenderCancelled(step: step) }
        }
        return try Self.image(for: p)
    }

    /// The PNG bytes for `p`, without waiting.
    public static func image(for p: RenderParameters) throws -> [UInt8] {
        var h = FNV1a()
        h.add(p.kind.name); h.add(p.model); h.add(p.prompt); h.add(p.negativePrompt); h.add(String(p.seed))
        h.add(String(p.steps)); h.add(p.sampler.rawValue); h.add(String(p.cfgScale)); h.add(p.sizeDescription)
        let extra = p.storedExtra
        for key in extra.keys.sorted() { h.add(key); h.add(extra[key]!) }
        let k = h.value
        let base = (UInt8(truncatingIfNeeded: k), UInt8(truncatingIfNeeded: k >> 8), UInt8(truncatingIfNeeded: k >> 16))
        let stripe = Int(k >> 24 & 0x1F) + 4
        var image = RGBImage(width: p.width, height: p.height)
        image.pixels.withUnsafeMutableBufferPointer { px in
            for y in 0..<p.height {
                for x in 0..<p.width {
                    let i = (y * p.width + x) * 3
                    let band = ((x + y) / stripe) & 1 == 0
                    px[i] = base.0 &+ UInt8(truncatingIfNeeded: x * 255 / max(1, p.width - 1) / 2)
                    px[i + 1] = base.1 &+ UInt8(truncatingIfNeeded: y * 255 / max(1, p.height - 1) / 2)
                    px[i + 2] = band ? base.2 : ~base.2
                }
            }
        }
        let text = GenerationParameters(prompt: p.prompt, negativePrompt: p.negativePrompt, steps: p.steps, sampler: p.sampler,
                                        cfgScale: Float(p.cfgScale), seed: p.seed, width: p.width, height: p.height,
                                        modelHash: "", modelName: "test-pattern").a1111Text
        return try PNGCodec.encode(image, text: [PNGCodec.TextChunk(key: "parameters", value: text)])
    }
}

/// 64-bit FNV-1a, for the test pattern only.
struct FNV1a {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ s: String) {
        for b in s.utf8 { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }
        value = (value ^ 0xFF) &* 0x100_0000_01b3
    }
}
