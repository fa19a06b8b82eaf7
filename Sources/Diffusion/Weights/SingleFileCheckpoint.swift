/// Maps an original-layout (CompVis/LDM) single-file SD 1.x/2.x checkpoint to diffusers names and
/// infers the architecture from tensor shapes, since such files carry no config.
///
/// Name mapping follows diffusers' `loaders/single_file_utils.py` (diffusers 0.3x), generalised to any
/// `layers_per_block`; see REFERENCE.md §6.
public struct SingleFileCheckpoint: Sendable {
    public let unet: RenamedWeights
    public let vae: RenamedWeights
    public let textEncoder: RenamedWeights
    public let unetConfig: UNetConfig
    public let vaeConfig: VAEConfig
    public let textConfig: CLIPTextConfig
    /// The text encoder is SD 2.x's OpenCLIP tower (`cond_stage_model.model.*`), converted at load.
    public let isOpenCLIP: Bool

    static let unetPrefix = "model.diffusion_model."
    static let vaePrefix = "first_stage_model."
    static let textPrefixes = ["cond_stage_model.transformer.text_model.", "cond_stage_model.transformer."]

    /// Builds the renamed views and configs for `source` (all its names listed in `names`).
    public init(source: any WeightSource, names: [String]) throws {
        let origin = source.origin
        func shape(_ n: String) throws -> [Int] {
            guard let s = source.shape(of: n) else {
                throw ModelError(code: .missingTensor, origin: origin, tensor: n, message: "needed to infer the architecture of a single-file checkpoint")
            }
            return s
        }
        guard names.contains(where: { $0.hasPrefix(Self.unetPrefix) }) else {
            throw ModelError(code: .unsupported, origin: origin,
                             message: "no 'model.diffusion_model.*' tensors: not an original-layout Stable Diffusion 1.x/2.x checkpoint (for a diffusers folder pass the folder)")
        }

        // ---- UNet architecture from shapes.
        let u = Self.unetPrefix
        let inputIndices = Set(names.compactMap { Self.index(after: "\(u)input_blocks.", in: $0) })
        let downsamplers = Set(names.compactMap { n -> Int? in n.hasSuffix(".0.op.weight") ? Self.index(after: "\(u)input_blocks.", in: n) : nil })
        let levels = downsamplers.count + 1
        let totalInput = (inputIndices.max() ?? 0) + 1
        let perLevel = (totalInput - 1 - (levels - 1)) / levels
        guard perLevel >= 1, 1 + levels * perLevel + (levels - 1) == totalInput else {
            throw ModelError(code: .unsupported, origin: origin, message: "cannot infer the UNet layout from input_blocks (\(totalInput) blocks, \(levels) levels)")
        }
        var channels: [Int] = [], downAttn: [Bool] = []
        for i in 0..<levels {
            let first = 1 + i * (perLevel + 1)
            channels.append(try shape("\(u)input_blocks.\(first).0.out_layers.3.weight")[0])
            downAttn.append(names.contains("\(u)input_blocks.\(first).1.proj_in.weight"))
        }
        let upAttn = (0..<levels).map { names.contains("\(u)output_blocks.\($0 * (perLevel + 1)).1.proj_in.weight") }
        let attnKey = names.first { $0.hasPrefix(u) && $0.hasSuffix("attn2.to_k.weight") }
        let crossDim = try attnKey.map { try shape($0)[1] } ?? 768
        let linearProj = try names.first { $0.hasPrefix(u) && $0.hasSuffix(".proj_in.weight") }.map { try shape($0).count == 2 } ?? false
        // SD 1.x checkpoints use 8 heads everywhere; SD 2.x (linear projections) uses 64-wide heads.
        let heads = channels.map { linearProj ? max(1, $0 / 64) : 8 }
        let inConv = try shape("\(u)input_blocks.0.0.weight")
        // SD 2.x (OpenCLIP) single files default to 768 × 768 (sample 96), as diffusers' SD 2.1 config.
        unetConfig = UNetConfig(sampleSize: names.contains(Self.openCLIPPrefix + "token_embedding.weight") ? 96 : 64, inChannels: inConv[1], outChannels: try shape("\(u)out.2.weight")[0],
                                blockOutChannels: channels, downHasAttention: downAttn, upHasAttention: upAttn,
                                layersPerBlock: perLevel, heads: heads, crossAttentionDim: crossDim, normGroups: 32,
                                linearProjection: linearProj)

        // ---- UNet names.
        var unetMap: [String: String] = [:]
        let resnetRenames = [("in_layers.0.", "norm1."), ("in_layers.2.", "conv1."), ("emb_layers.1.", "time_emb_proj."),
                             ("out_layers.0.", "norm2."), ("out_layers.3.", "conv2."), ("skip_connection.", "conv_shortcut.")]
        func resnet(_ rest: String) -> String {
            for (from, to) in resnetRenames where rest.hasPrefix(from) { return to + rest.dropFirst(from.count) }
            return rest
        }
        for name in names where name.hasPrefix(u) {
            let key = String(name.dropFirst(u.count))
            var mapped: String?
            if key.hasPrefix("time_embed.0.") { mapped = "time_embedding.linear_1." + key.dropFirst("time_embed.0.".count) }
            else if key.hasPrefix("time_embed.2.") { mapped = "time_embedding.linear_2." + key.dropFirst("time_embed.2.".count) }
            else if key.hasPrefix("input_blocks.0.0.") { mapped = "conv_in." + key.dropFirst("input_blocks.0.0.".count) }
            else if key.hasPrefix("out.0.") { mapped = "conv_norm_out." + key.dropFirst("out.0.".count) }
            else if key.hasPrefix("out.2.") { mapped = "conv_out." + key.dropFirst("out.2.".count) }
            else if let (block, sub, rest) = Self.split(key, "input_blocks.") {
                let level = (block - 1) / (perLevel + 1), j = (block - 1) % (perLevel + 1)
                if j == perLevel { if sub == 0, rest.hasPrefix("op.") { mapped = "down_blocks.\(level).downsamplers.0.conv." + rest.dropFirst(3) } }
                else if sub == 0 { mapped = "down_blocks.\(level).resnets.\(j)." + resnet(rest) }
                else if sub == 1 { mapped = "down_blocks.\(level).attentions.\(j)." + rest }
            } else if let (block, rest) = Self.indexed(key, "middle_block.") {
                mapped = block == 1 ? "mid_block.attentions.0." + rest : "mid_block.resnets.\(block / 2)." + resnet(rest)
            } else if let (block, sub, rest) = Self.split(key, "output_blocks.") {
                let level = block / (perLevel + 1), j = block % (perLevel + 1)
                if sub == 0 { mapped = "up_blocks.\(level).resnets.\(j)." + resnet(rest) }
                else if sub == 1, upAttn[min(level, levels - 1)] { mapped = "up_blocks.\(level).attentions.\(j)." + rest }
                else if rest.hasPrefix("conv.") { mapped = "up_blocks.\(level).upsamplers.0.conv." + rest.dropFirst(5) }
            }
            if let mapped { unetMap[mapped] = name }
        }
        unet = RenamedWeights(base: source, map: unetMap)

        // ---- VAE.
        let v = Self.vaePrefix
        let vaeLevels = Set(names.compactMap { Self.index(after: "\(v)encoder.down.", in: $0) }).count
        guard vaeLevels >= 1 else {
            throw ModelError(code: .missingTensor, origin: origin, tensor: "\(v)encoder.down.0", message: "the checkpoint has no VAE (first_stage_model.*)")
        }
        let vaeLayers = Set(names.compactMap { Self.index(after: "\(v)encoder.down.0.block.", in: $0) }).count
        let vaeChannels = try (0..<vaeLevels).map { try shape("\(v)encoder.down.\($0).block.0.conv1.weight")[0] }
        vaeConfig = VAEConfig(blockOutChannels: vaeChannels, layersPerBlock: vaeLayers, normGroups: 32,
                              latentChannels: try shape("\(v)post_quant_conv.weight")[0])
        var vaeMap: [String: String] = [:]
        let attnRenames = [("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."), ("v.", "to_v."), ("proj_out.", "to_out.0.")]
        func vaeBlock(_ rest: String) -> String { rest.hasPrefix("nin_shortcut.") ? "conv_shortcut." + rest.dropFirst("nin_shortcut.".count) : rest }
        for name in names where name.hasPrefix(v) {
            let key = String(name.dropFirst(v.count))
            var mapped: String?
            for part in ["encoder.", "decoder."] where key.hasPrefix(part) {
                let k = String(key.dropFirst(part.count))
                if k.hasPrefix("conv_in.") || k.hasPrefix("conv_out.") { mapped = part + k }
                else if k.hasPrefix("norm_out.") { mapped = part + "conv_norm_out." + k.dropFirst("norm_out.".count) }
                else if k.hasPrefix("mid.block_1.") { mapped = part + "mid_block.resnets.0." + vaeBlock(String(k.dropFirst("mid.block_1.".count))) }
                else if k.hasPrefix("mid.block_2.") { mapped = part + "mid_block.resnets.1." + vaeBlock(String(k.dropFirst("mid.block_2.".count))) }
                else if k.hasPrefix("mid.attn_1.") {
                    let rest = String(k.dropFirst("mid.attn_1.".count))
                    for (from, to) in attnRenames where rest.hasPrefix(from) { mapped = part + "mid_block.attentions.0." + to + rest.dropFirst(from.count) }
                } else if let (i, rest) = Self.indexed(k, part == "encoder." ? "down." : "up.") {
                    let level = part == "encoder." ? i : vaeLevels - 1 - i
                    let blocks = part == "encoder." ? "down_blocks" : "up_blocks"
                    if let (j, r) = Self.indexed(rest, "block.") { mapped = "\(part)\(blocks).\(level).resnets.\(j)." + vaeBlock(r) }
                    else if rest.hasPrefix("downsample.conv.") { mapped = "\(part)\(blocks).\(level).downsamplers.0.conv." + rest.dropFirst("downsample.conv.".count) }
                    else if rest.hasPrefix("upsample.conv.") { mapped = "\(part)\(blocks).\(level).upsamplers.0.conv." + rest.dropFirst("upsample.conv.".count) }
                }
            }
            if key.hasPrefix("quant_conv.") || key.hasPrefix("post_quant_conv.") { mapped = key }
            if let mapped { vaeMap[mapped] = name }
        }
        vae = RenamedWeights(base: source, map: vaeMap)

        // ---- Text encoder: SD 2.x's OpenCLIP tower, converted; else CLIP (names after the prefix equal transformers').
        if names.contains(Self.openCLIPPrefix + "token_embedding.weight") {
            (textEncoder, textConfig) = try Self.openCLIPText(source: source, names: names, shape: shape)
            isOpenCLIP = true
            return
        }
        isOpenCLIP = false
        guard let textPrefix = Self.textPrefixes.first(where: { p in names.contains { $0.hasPrefix(p + "embeddings.token_embedding") } }) else {
            throw ModelError(code: .missingTensor, origin: origin, tensor: "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
                             message: "the checkpoint has no text encoder (neither CLIP cond_stage_model.transformer.* nor OpenCLIP cond_stage_model.model.*)")
        }
        var textMap: [String: String] = [:]
        for name in names where name.hasPrefix(textPrefix) && !name.hasSuffix("position_ids") {
            textMap["text_model." + name.dropFirst(textPrefix.count)] = name
        }
        textEncoder = RenamedWeights(base: source, map: textMap)
        let tok = try shape(textPrefix + "embeddings.token_embedding.weight")
        let textLayers = Set(names.compactMap { Self.index(after: textPrefix + "encoder.layers.", in: $0) }).count
        textConfig = CLIPTextConfig(vocabSize: tok[0], hiddenSize: tok[1],
                                    intermediateSize: try shape(textPrefix + "encoder.layers.0.mlp.fc1.weight")[0],
                                    layers: textLayers, heads: max(1, tok[1] / 64),
                                    maxPositions: try shape(textPrefix + "embeddings.position_embedding.weight")[0])
    }

    static let openCLIPPrefix = "cond_stage_model.model."

    /// SD 2.x's OpenCLIP ViT-H text tower as transformers' `CLIPTextModel`, as diffusers' `convert_open_clip_checkpoint`
    /// converts it (loaders/single_file_utils.py): `resblocks.<i>` → `encoder.layers.<i>` with the fused
    /// `attn.in_proj_weight`/`bias` split into q, k, v (rows 0..<D, D..<2D, 2D..<3D), `ln_1/ln_2` → `layer_norm1/2`,
    /// `mlp.c_fc/c_proj` → `mlp.fc1/fc2`, `ln_final` → `final_layer_norm`, `positional_embedding` →
    /// `position_embedding.weight`; the last resblock is dropped, because SD 2.x conditions on the penultimate
    /// layer (then `ln_final`). GELU, heads = width / 64; `text_projection` and `logit_scale` are unused.
    static func openCLIPText(source: any WeightSource, names: [String],
                             shape: (String) throws -> [Int]) throws -> (RenamedWeights, CLIPTextConfig) {
        let p = openCLIPPrefix
        let blocks = Set(names.compactMap { index(after: p + "transformer.resblocks.", in: $0) }).count
        guard blocks >= 2 else {
            throw ModelError(code: .unsupported, origin: source.origin, tensor: p + "transformer.resblocks",
                             message: "the OpenCLIP text tower has \(blocks) layer(s); SD 2.x uses the penultimate of at least 2")
        }
        let tok = try shape(p + "token_embedding.weight")
        let width = tok[1]
        var map: [String: String] = [
            "text_model.embeddings.token_embedding.weight": p + "token_embedding.weight",
            "text_model.embeddings.position_embedding.weight": p + "positional_embedding",
            "text_model.final_layer_norm.weight": p + "ln_final.weight", "text_model.final_layer_norm.bias": p + "ln_final.bias",
        ]
        var slices: [String: (String, Range<Int>)] = [:]
        let renames = [("ln_1.", "layer_norm1."), ("ln_2.", "layer_norm2."), ("attn.out_proj.", "self_attn.out_proj."),
                       ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2.")]
        for i in 0..<(blocks - 1) {
            let from = "\(p)transformer.resblocks.\(i).", to = "text_model.encoder.layers.\(i)."
            for (a, b) in renames { for kind in ["weight", "bias"] { map[to + b + kind] = from + a + kind } }
            for (n, proj) in ["q_proj", "k_proj", "v_proj"].enumerated() {
                slices["\(to)self_attn.\(proj).weight"] = (from + "attn.in_proj_weight", (n * width)..<((n + 1) * width))
                slices["\(to)self_attn.\(proj).bias"] = (from + "attn.in_proj_bias", (n * width)..<((n + 1) * width))
            }
        }
        let config = CLIPTextConfig(vocabSize: tok[0], hiddenSize: width,
                                    intermediateSize: try shape(p + "transformer.resblocks.0.mlp.c_fc.weight")[0],
                                    layers: blocks - 1, heads: max(1, width / 64),
                                    maxPositions: try shape(p + "positional_embedding")[0], activation: "gelu")
        return (RenamedWeights(base: source, map: map, rowSlices: slices), config)
    }

    /// The integer right after `prefix` in `name` (`input_blocks.7.1…` → 7).
    static func index(after prefix: String, in name: String) -> Int? {
        guard name.hasPrefix(prefix) else { return nil }
        return Int(name.dropFirst(prefix.count).prefix { $0.isNumber })
    }

    /// `input_blocks.4.1.rest` → (4, 1, "rest").
    static func split(_ key: String, _ prefix: String) -> (Int, Int, String)? {
        guard let (a, rest) = indexed(key, prefix), let (b, tail) = indexed(rest, "") else { return nil }
        return (a, b, tail)
    }

    /// `down.3.rest` → (3, "rest").
    static func indexed(_ key: String, _ prefix: String) -> (Int, String)? {
        guard key.hasPrefix(prefix) else { return nil }
        let rest = key.dropFirst(prefix.count)
        let digits = rest.prefix { $0.isNumber }
        guard let n = Int(digits), rest.dropFirst(digits.count).first == "." else { return nil }
        return (n, String(rest.dropFirst(digits.count + 1)))
    }
}
