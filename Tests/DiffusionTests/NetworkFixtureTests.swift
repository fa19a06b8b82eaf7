import Diffusion
import Foundation
import Tensor
import Testing

/// The three networks against diffusers/transformers outputs for tiny random models with unusual configs
/// (tools/fixtures/make_network_fixtures.py). Tolerance: 1e-4 relative to the reference's largest magnitude.
@Suite("Networks match diffusers")
struct NetworkFixtureTests {
    static let models = ["net-a", "net-b"]

    /// One network (`text_encoder`, `unet`, `vae`) of a fixture model, built by `build` from its config and
    /// weights, and the model's reference outputs.
    static func network<Network>(_ model: String, _ part: String, weightsFile: String = "diffusion_pytorch_model.safetensors",
                                 _ build: (ConfigFile, Weights) throws -> Network) throws -> (Network, SafeTensorsFile) {
        let dir = try Fixtures.required("networks/\(model)/\(part)")
        let network = try build(ConfigFile(path: dir + "/config.json"), Weights(SafeTensorsFile(path: dir + "/" + weightsFile)))
        return (network, try reference(model))
    }
    static func reference(_ model: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("networks/\(model).reference.safetensors"))
    }
    static func meta(_ model: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("networks/\(model).reference.json")))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// max |ours − reference| / max |reference|.
    static func relativeError(_ ours: Tensor, _ reference: Tensor) -> Float {
        #expect(ours.shape == reference.shape)
        return ours.maxAbsDifference(reference) / max(reference.maxAbs, 1e-12)
    }

    @Test("CLIP text encoder last_hidden_state", arguments: models)
    func textEncoder(model: String) throws {
        let (encoder, ref) = try Self.network(model, "text_encoder", weightsFile: "model.safetensors") {
            try CLIPTextModel(config: CLIPTextConfig($0), weights: $1)
        }
        for k in 0..<3 {
            let ids = try ref.tensor("ids_\(k)").scalars.map { Int($0) }
            let out = try encoder([ids])
            let err = Self.relativeError(out, try ref.tensor("text_\(k)"))
            #expect(err < 1e-4, "prompt \(k): relative error \(err)")  // observed ≤ 3e-7
        }
    }

    @Test("the guidance batch [x, x] computes its shared prefix once and gives the unshared result up to GEMM rounding", arguments: models)
    func unetSharedPrefix(model: String) throws {
        let (unet, ref) = try Self.network(model, "unet") { try UNet2DConditionModel(config: UNetConfig($0), weights: $1) }
        let sample = try ref.tensor("unet_sample"), context = try ref.tensor("unet_context")
        let x = sample.slice(0..<1).repeatedBatch(2)
        let ctx = Tensor.concatenate([context.slice(0..<1), context.slice(0..<1) * 0.5])
        let shared = unet(x, timestep: 500, context: ctx)
        let unshared = unet(x, timestep: 500, context: ctx, sharePrefix: false)
        let err = Self.relativeError(shared, unshared)
        #expect(err < 1e-5, "shared prefix: relative difference \(err)")  // observed ≤ 2.2e-6 absolute (OpenBLAS edge tiles)
        #expect(shared.slice(0..<1).maxAbsDifference(shared.slice(1..<2)) > 0, "the two contexts must give different halves")
        #expect(x.hasIdenticalBatchParts(2) && !sample.hasIdenticalBatchParts(2) || sample.shape[0] < 2)
    }

    @Test("UNet2DConditionModel forward at integer and fractional timesteps", arguments: models)
    func unet(model: String) throws {
        let (unet, ref) = try Self.network(model, "unet") { try UNet2DConditionModel(config: UNetConfig($0), weights: $1) }
        let timesteps = try #require(Self.meta(model)["unet_timesteps"] as? [Double])
        for t in timesteps {
            let name = t == t.rounded() ? "unet_out_\(Int(t))" : "unet_out_\(t)"
            let out = unet(try ref.tensor("unet_sample"), timestep: Float(t), context: try ref.tensor("unet_context"))
            let err = Self.relativeError(out, try ref.tensor(name))
            #expect(err < 1e-4, "t=\(t): relative error \(err)")  // observed ≤ 1e-6
        }
    }

    @Test("AutoencoderKL decode and encode", arguments: models)
    func vae(model: String) throws {
        let (vae, ref) = try Self.network(model, "vae") { try AutoencoderKL(config: VAEConfig($0), weights: $1) }
        let decoded = vae.decode(try ref.tensor("vae_dec_in"))
        #expect(Self.relativeError(decoded, try ref.tensor("vae_dec_out")) < 1e-4)
        let (mean, logvar) = try vae.encode(try ref.tensor("vae_enc_in"))
        #expect(Self.relativeError(mean, try ref.tensor("vae_enc_mean")) < 1e-4)
        #expect(Self.relativeError(logvar, try ref.tensor("vae_enc_logvar")) < 1e-4)
    }
}
