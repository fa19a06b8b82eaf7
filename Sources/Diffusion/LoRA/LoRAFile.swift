import Foundation
public import RenderFormat
public import Tensor

/// A LoRA read from a safetensors file: low-rank pairs per target layer, in either layout civitai files come in.
///
/// - kohya / A1111 (sd-scripts, LyCORIS LoCon): `lora_unet_<module>` / `lora_te_<module>` with the module's dots as
///   underscores, `.lora_down.weight` [r, in(, kh, kw)], `.lora_up.weight` [out, r(, 1, 1)], `.alpha` (scale
///   alpha / r; absent: 1). Convolutions (LoCon) merge as `up·down` reshaped to the kernel.
/// - diffusers / PEFT: `unet.<module>` / `text_encoder.<module>` with `.lora_A.weight` / `.lora_B.weight` (or the older
///   `.lora.down.weight` / `.lora.up.weight`), optional `.alpha`.
///
/// Module names are those of diffusers' UNet and transformers' CLIP text model, so they are matched against the
/// model's own weight names (underscores make the kohya names ambiguous; the model resolves them). What diffusers'
/// `load_lora_weights` then computes, `W x + w·(α/r)·B(A x)`, equals the merged `W + w·(α/r)·B·A` used here.
public struct LoRAFile: Sendable {
    public enum Component: String, Sendable { case unet, textEncoder = "text encoder" }

    /// One low-rank update: `scale · up · down` onto the layer `module` of `component`.
    public struct Pair: Sendable {
        public let component: Component
        /// The module path as the file spells it (kohya: underscores; PEFT: dots).
        public let module: String
        public let down: Tensor
        public let up: Tensor
        /// alpha / rank (1 without alpha).
        public let scale: Float
        public var rank: Int { down.shape[0] }
    }

    public let path: String
    /// The file name without `.safetensors` (A1111's LoRA name).
    public let name: String
    public let pairs: [Pair]
    /// A1111's short hash: the first 12 hex digits of the SHA-256 of the tensor data (the bytes after the header;
    /// kohya's "addnet" hash).
    public let shortHash: String

    /// Reads a LoRA file.
    /// - Throws: `ModelError` naming the file: unreadable, not safetensors, no LoRA tensors, a key it cannot place
    ///   (LoHa, LoKr and other LyCORIS types are refused by name), a down without its up, ranks that disagree.
    public init(path: String) throws {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch {
            throw ModelError(code: .badParameter, origin: path, message: "cannot read the LoRA: \(error)")
        }
        self.path = path
        name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        func bad(_ key: String, _ m: String) -> ModelError { ModelError(code: .unsupported, origin: path, tensor: key, message: m) }
        struct Parts { var down: String?, up: String?, alpha: String? }
        var modules: [String: (Component, Parts)] = [:]
        for key in file.names {
            var component: Component
            var rest: Substring
            if key.hasPrefix("lora_unet_") {
                component = .unet; rest = key.dropFirst("lora_unet_".count)
            } else if key.hasPrefix("lora_te_") || key.hasPrefix("lora_te1_") {
                component = .textEncoder; rest = key.dropFirst(key.hasPrefix("lora_te_") ? 8 : 9)
            } else if key.hasPrefix("unet.") {
                component = .unet; rest = key.dropFirst(5)
            } else if key.hasPrefix("text_encoder.") {
                component = .textEncoder; rest = key.dropFirst(13)
            } else if key.hasPrefix("lora_te2_") || key.hasPrefix("text_encoder_2.") {
                throw bad(key, "is for a second text encoder (SDXL); this LoRA is for another architecture than SD 1.x/2.x")
            } else {
                throw bad(key, "is not a LoRA tensor name (expected lora_unet_…, lora_te_…, unet.… or text_encoder.…)")
            }
            let suffixes: [(String, WritableKeyPath<Parts, String?>)] = [
                (".lora_down.weight", \.down), (".lora_up.weight", \.up), (".lora_A.weight", \.down), (".lora_B.weight", \.up),
                (".lora.down.weight", \.down), (".lora.up.weight", \.up), (".alpha", \.alpha)]
            guard let (suffix, part) = suffixes.first(where: { rest.hasSuffix($0.0) }) else {
                if ["hada_", "lokr_", "lora_mid", "oft_", "diff", "dora_scale"].contains(where: { rest.contains($0) }) {
                    throw bad(key, "is a LyCORIS type other than LoRA/LoCon (LoHa, LoKr, Tucker, OFT, DoRA…), which is not supported")
                }
                throw bad(key, "is neither a lora_down/lora_up (lora_A/lora_B) weight nor an alpha")
            }
            let module = String(rest.dropLast(suffix.count))
            var entry = modules[module] ?? (component, Parts())
            entry.1[keyPath: part] = key
            modules[module] = entry
        }
        var pairs: [Pair] = []
        for (module, (component, parts)) in modules.sorted(by: { $0.key < $1.key }) {
            guard let downKey = parts.down, let upKey = parts.up else {
                throw bad(parts.down ?? parts.up ?? module, "has no matching \(parts.down == nil ? "down (lora_A)" : "up (lora_B)") weight")
            }
            let down = try file.tensor(downKey), up = try file.tensor(upKey)
            let rank = down.shape[0]
            guard down.shape.count >= 2, up.shape.count >= 2, up.shape[1] == rank,
                  up.shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
                throw bad(upKey, "has shape \(up.shape) against down \(down.shape); the ranks do not match")
            }
            var scale: Float = 1
            if let alphaKey = parts.alpha {
                let alpha = try file.tensor(alphaKey)
                guard alpha.count == 1, let value = alpha.scalars.first, value.isFinite else { throw bad(alphaKey, "is not one finite number") }
                scale = value / Float(rank)
            }
            pairs.append(Pair(component: component, module: module, down: down, up: up, scale: scale))
        }
        guard !pairs.isEmpty else { throw ModelError(code: .badParameter, origin: path, message: "holds no LoRA tensors") }
        self.pairs = pairs
        shortHash = String(try Self.tensorDataHash(path: path).prefix(12))
    }

    /// SHA-256 (hex) of the bytes after a safetensors header: A1111's `addnet_hash_safetensors`.
    static func tensorDataHash(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count >= 8 else {
            throw ModelError(code: .missingFile, origin: path, message: "cannot read the LoRA file")
        }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        let start = min(Int(clamping: n) + 8, data.count)
        return SHA256.hex(SHA256.hash([UInt8](data[start...])))
    }
}
