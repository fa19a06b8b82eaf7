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

    @Option(help: "Components to time, comma-separated: text, unet, vae.")
    var components = "text,unet,vae"

    @Option(help: "Repetitions of each (the best is reported).")
    var repeats = 1

    func run() throws {
        let wanted = Set(components.split(separator: ",").map(String.init))
        let latent = size / 8
        func time(_ label: String, _ body: () throws -> Void) rethrows {
            var best = Double.infinity
            for _ in 0..<max(1, repeats) {
                let start = Date()
                try body()
                best = min(best, Date().timeIntervalSince(start))
            }
            print("\(label): \(String(format: "%.3f", best)) s")
        }
        print(BLASRuntime.status)
        if wanted.contains("text") {
            let model = try CLIPTextModel(config: StandardConfigs.clipViTL14, weights: Weights(SyntheticWeights()))
            let ids = [[49406] + Array(repeating: 320, count: 75) + [49407], [49406, 49407] + Array(repeating: 49407, count: 75)]
            try time("text encoder (batch 2)") { _ = try model(ids) }
        }
        if wanted.contains("unet") {
            let unet = try UNet2DConditionModel(config: StandardConfigs.sd15UNet, weights: Weights(SyntheticWeights()))
            let x = Tensor(shape: [2, 4, latent, latent]) { b in for i in b.indices { b[i] = Float(i % 17) / 17 - 0.5 } }
            let ctx = Tensor(shape: [2, 77, 768]) { b in for i in b.indices { b[i] = Float(i % 13) / 13 - 0.5 } }
            time("UNet step with CFG (batch 2, \(size)x\(size))") { _ = unet(x, timestep: 981, context: ctx) }
        }
        if wanted.contains("vae") {
            let vae = try AutoencoderKL(config: StandardConfigs.sd15VAE, weights: Weights(SyntheticWeights()))
            let z = Tensor(shape: [1, 4, latent, latent]) { b in for i in b.indices { b[i] = Float(i % 11) / 11 - 0.5 } }
            time("VAE decode (\(size)x\(size))") { _ = vae.decode(z) }
        }
        if let rss = peakRSS() { print("peak RSS: \(String(format: "%.2f", Double(rss) / 1e9)) GB") }
    }
}

/// Peak resident set size of this process in bytes (Linux VmHWM).
func peakRSS() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
    let kb = line.split(separator: " ").compactMap { Int($0) }.first
    return kb.map { $0 * 1024 }
}
