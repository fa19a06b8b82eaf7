import ArgumentParser
import Diffusion
import Foundation
import Tensor

/// `sdfarm bench`: times the engine's components on full-size SD 1.5 architectures with synthetic weights.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time text encoder, one UNet step with CFG (batch 2) and VAE decode at SD 1.5 size with synthetic weights.",
        discussion: "For a real checkpoint and a side-by-side diffusers comparison use tools/bench.")

    @Option(help: "Image size in pixels (square).")
    var size = 512

    @Option(help: "Components to time, comma-separated: text, unet, vae; kernels (each SD 1.5 3×3 convolution shape through im2col, F(2,3) and F(4,3), attention fused and unfused).")
    var components = "text,unet,vae"

    @Option(help: "Repetitions of each (the median is reported; at least 3).")
    var repeats = 3

    @Option(help: "A diffusers folder whose weights to use (default: synthetic SD 1.5 weights).")
    var model: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let wanted = Set(components.split(separator: ",").map(String.init))
        let latent = size / 8
        var results: [String: Double] = [:]
        func time(_ key: String, _ label: String, _ body: () throws -> Void) rethrows {
            var times: [Double] = []
            for _ in 0..<max(3, repeats) {
                let start = Date()
                try body()
                times.append(Date().timeIntervalSince(start))
            }
            times.sort()
            results[key] = times[times.count / 2]
            if !json { print("\(label): median \(String(format: "%.3f", times[times.count / 2])) s of \(times.map { String(format: "%.2f", $0) }.joined(separator: ", ")) [OpenBLAS idle spin \(BLASRuntime.idleSpinDescription)]") }
        }
        if !json { print("\(BLASRuntime.status); kernels \(KernelPath.active.rawValue), \(Parallel.threads) threads") }
        func component(_ sub: String, _ file: String) throws -> (Weights, ConfigFile)? {
            guard let model else { return nil }
            let dir = (model as NSString).appendingPathComponent(sub)
            return (Weights(try SafeTensorsFile(path: (dir as NSString).appendingPathComponent(file))),
                    try ConfigFile(path: (dir as NSString).appendingPathComponent("config.json")))
        }
        if wanted.contains("text") {
            let loaded = try component("text_encoder", "model.safetensors")
            let model = try CLIPTextModel(config: try loaded.map { try CLIPTextConfig($0.1) } ?? StandardConfigs.clipViTL14,
                                          weights: loaded?.0 ?? Weights(SyntheticWeights()))
            let ids = [[49406] + Array(repeating: 320, count: 75) + [49407], [49406, 49407] + Array(repeating: 49407, count: 75)]
            try time("text_encoder_s", "text encoder (batch 2)") { _ = try model(ids) }
        }
        if wanted.contains("unet") {
            let loaded = try component("unet", "diffusion_pytorch_model.safetensors")
            let unet = try UNet2DConditionModel(config: try loaded.map { try UNetConfig($0.1) } ?? StandardConfigs.sd15UNet,
                                                weights: loaded?.0 ?? Weights(SyntheticWeights()))
            let x = Tensor(shape: [2, 4, latent, latent]) { b in for i in b.indices { b[i] = Float(i % 17) / 17 - 0.5 } }
            let ctx = Tensor(shape: [2, 77, 768]) { b in for i in b.indices { b[i] = Float(i % 13) / 13 - 0.5 } }
            time("unet_step_s", "UNet step with CFG (batch 2, \(size)x\(size))") { _ = unet(x, timestep: 981, context: ctx) }
        }
        if wanted.contains("vae") {
            let loaded = try component("vae", "diffusion_pytorch_model.safetensors")
            let vae = try AutoencoderKL(config: try loaded.map { try VAEConfig($0.1) } ?? StandardConfigs.sd15VAE,
                                        weights: loaded?.0 ?? Weights(SyntheticWeights()))
            let z = Tensor(shape: [1, 4, latent, latent]) { b in for i in b.indices { b[i] = Float(i % 11) / 11 - 0.5 } }
            time("vae_decode_s", "VAE decode (\(size)x\(size))") { _ = vae.decode(z) }
        }
        if wanted.contains("kernels") { try kernelTable(latent: latent) }
        let rss = Double(peakRSS() ?? 0) / 1e9
        if json {
            let fields = results.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \(String(format: "%.4f", $0.value))" }
            print("{\"engine\": \"sdfarm\", \"core\": \"\(BLASRuntime.activeCore)\", \"kernels\": \"\(KernelPath.active.rawValue)\", \"repeats\": \(max(3, repeats)), \(fields.joined(separator: ", ")), \"peak_rss_gb\": \(String(format: "%.3f", rss))}")
        } else {
            print("peak RSS: \(String(format: "%.2f", rss)) GB")
        }
    }
}

extension Bench {
    /// Median seconds of `repeats` (at least 3) runs of `body`.
    func median(_ body: () -> Void) -> Double {
        let times = (0..<max(3, repeats)).map { _ in
            let start = Date()
            body()
            return Date().timeIntervalSince(start)
        }.sorted()
        return times[times.count / 2]
    }

    /// The measurement behind `Kernels.convAlgorithm` and the fused attention: every 3×3 convolution shape of
    /// the SD 1.5 U-Net (batch 2) and VAE decoder at this size, and its attention shapes, side by side.
    func kernelTable(latent: Int) throws {
        func filled(_ shape: [Int], _ salt: Int) -> Tensor {
            Tensor(shape: shape) { b in for i in b.indices { b[i] = Float((i &* 31 &+ salt) % 97) / 97 - 0.5 } }
        }
        print("3x3 convolutions (median of \(max(3, repeats)), seconds): batch, in→out channels, map | im2col | F(2,3) | F(4,3) | auto")
        let convs: [(Int, Int, Int, Int)] = [
            (2, 320, 320, latent), (2, 640, 640, latent / 2), (2, 1280, 1280, latent / 4), (2, 1280, 1280, latent / 8),
            (2, 2560, 1280, latent / 4), (2, 1920, 640, latent / 2), (2, 640, 320, latent),
            (1, 512, 512, latent), (1, 512, 512, latent * 2), (1, 256, 256, latent * 4), (1, 128, 128, latent * 8),
        ]
        for (n, cin, cout, side) in convs {
            BLASRuntime.prepare(idleSpin: .forConvolution3x3(pixels: n * side * side, channelsIn: cin, channelsOut: cout))
            let x = filled([n, cin, side, side], 1), w = filled([cout, cin, 3, 3], 2) * 0.05, b = filled([cout], 3)
            let t = [Kernels.ConvAlgorithm.direct, .winogradF23, .winogradF43].map { a in
                median { _ = Kernels.conv2d(x, weight: w, bias: b, padding: 1, algorithm: a) }
            }
            let auto = Kernels.convAlgorithm(channelsIn: cin, channelsOut: cout, outHeight: side, outWidth: side)
            print(String(format: "  %d, %4d→%4d, %3d² | %7.3f | %7.3f | %7.3f | %@", n, cin, cout, side, t[0], t[1], t[2], auto.rawValue))
        }
        print("attention (median, seconds): batch×heads, queries×keys, head size | unfused | fused")
        let attentions: [(Int, Int, Int, Int, Int)] = [
            (2, 8, latent * latent, latent * latent, 40), (2, 8, latent * latent, 77, 40),
            (2, 8, latent * latent / 4, latent * latent / 4, 80), (2, 8, latent * latent / 16, latent * latent / 16, 160),
            (1, 1, latent * latent, latent * latent, 512), (2, 12, 77, 77, 64),
        ]
        for (b, heads, nq, nk, d) in attentions {
            let q = filled([b, nq, heads * d], 4), k = filled([b, nk, heads * d], 5), v = filled([b, nk, heads * d], 6)
            let causal = nq == 77
            let unfused = median { _ = Kernels.attentionUnfused(q: q, k: k, v: v, heads: heads, causal: causal) }
            let fused = median { _ = Kernels.attention(q: q, k: k, v: v, heads: heads, causal: causal) }
            print(String(format: "  %d×%2d, %5d×%5d, %3d | %7.3f | %7.3f", b, heads, nq, nk, d, unfused, fused))
        }
    }
}

/// Peak resident set size of this process in bytes (Linux VmHWM).
func peakRSS() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
    let kb = line.split(separator: " ").compactMap { Int($0) }.first
    return kb.map { $0 * 1024 }
}
