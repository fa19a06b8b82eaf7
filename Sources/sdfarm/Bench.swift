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

    @Option(help: "A diffusers folder whose weights to use (default: synthetic SD 1.5 weights).")
    var model: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let wanted = Set(components.split(separator: ",").map(String.init))
        let latent = size / 8
        var results: [String: Double] = [:]
        func time(_ key: String, _ label: String, _ body: () throws -> Void) rethrows {
            var best = Double.infinity
            for _ in 0..<max(1, repeats) {
                let start = Date()
                try body()
                best = min(best, Date().timeIntervalSince(start))
            }
            results[key] = best
            if !json { print("\(label): \(String(format: "%.3f", best)) s") }
        }
        if !json { print(BLASRuntime.status) }
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
        let rss = Double(peakRSS() ?? 0) / 1e9
        if json {
            let fields = results.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \(String(format: "%.4f", $0.value))" }
            print("{\"engine\": \"sdfarm\", \"core\": \"\(BLASRuntime.activeCore)\", \(fields.joined(separator: ", ")), \"peak_rss_gb\": \(String(format: "%.3f", rss))}")
        } else {
            print("peak RSS: \(String(format: "%.2f", rss)) GB")
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
