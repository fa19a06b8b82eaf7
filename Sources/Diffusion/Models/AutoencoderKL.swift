public import Tensor

/// The parts of diffusers' `AutoencoderKL` config that shape the network.
public struct VAEConfig: Sendable, Equatable, Decodable {
    public var inChannels: Int = 3
    public var outChannels: Int = 3
    public var latentChannels: Int = 4
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int = 2
    public var normGroups: Int = 32
    public var scalingFactor: Float = 0.18215
    public var midHasAttention: Bool = true

    public init(blockOutChannels: [Int], layersPerBlock: Int = 2, normGroups: Int = 32, latentChannels: Int = 4, scalingFactor: Float = 0.18215) {
        self.blockOutChannels = blockOutChannels
        self.layersPerBlock = layersPerBlock
        self.normGroups = normGroups
        self.latentChannels = latentChannels
        self.scalingFactor = scalingFactor
    }

    /// Reads `vae/config.json`.
    /// - Throws: `ModelError` naming the file and the key that is malformed or unsupported.
    public init(_ file: ConfigFile) throws { self = try file.decode() }

    /// Decodes diffusers' `AutoencoderKL` config keys, absent ones taking diffusers' defaults.
    public init(from decoder: any Decoder) throws {
        let c = try ConfigReader(decoder, errors: .model)
        blockOutChannels = try c("block_out_channels", default: [64])
        inChannels = try c("in_channels", default: 3)
        outChannels = try c("out_channels", default: 3)
        latentChannels = try c("latent_channels", default: 4)
        layersPerBlock = try c("layers_per_block", default: 1)
        normGroups = try c("norm_num_groups", default: 32)
        scalingFactor = Float(try c("scaling_factor", default: 0.18215 as Double))
        midHasAttention = try c("mid_block_add_attention", default: true)
        let down = try c("down_block_types", default: Array(repeating: "DownEncoderBlock2D", count: blockOutChannels.count))
        let up = try c("up_block_types", default: Array(repeating: "UpDecoderBlock2D", count: blockOutChannels.count))
        guard down.allSatisfy({ $0 == "DownEncoderBlock2D" }), up.allSatisfy({ $0 == "UpDecoderBlock2D" }),
              down.count == blockOutChannels.count, up.count == blockOutChannels.count else {
            throw ModelError(code: .unsupported, origin: c.path, tensor: "down_block_types",
                             message: "only DownEncoderBlock2D/UpDecoderBlock2D VAEs with one block per block_out_channels entry are supported")
        }
        if c.has("latents_mean") || (c.has("shift_factor") && (try? c.optional("shift_factor", as: Double.self)) != 0) {
            throw ModelError(code: .unsupported, origin: c.path, message: "VAEs with latents_mean/shift_factor (SDXL/SD3 style) are not supported")
        }
    }

    /// Pixels per latent along each axis: 2^(levels−1).
    public var downsampleFactor: Int { 1 << (blockOutChannels.count - 1) }
}

/// diffusers `UNetMidBlock2D` without time embedding: resnet, single-head attention, resnet.
struct VAEMidBlock: Sendable {
    let resnet1: ResnetBlock2D, resnet2: ResnetBlock2D
    let attnNorm: GroupNorm?, attention: Attention?

    init(_ w: Weights, channels: Int, groups: Int, attention hasAttention: Bool) throws {
        resnet1 = try ResnetBlock2D(w["resnets.0"], in: channels, out: channels, temb: nil, groups: groups, eps: 1e-6)
        resnet2 = try ResnetBlock2D(w["resnets.1"], in: channels, out: channels, temb: nil, groups: groups, eps: 1e-6)
        if hasAttention {
            let a = w["attentions.0"]
            // Old diffusers files name the projections query/key/value/proj_attn.
            if !a.contains("to_q.weight"), a.contains("query.weight") {
                let renamed = RenamedWeights(base: a.source, map: [
                    "\(a.prefix).to_q.weight": "\(a.prefix).query.weight", "\(a.prefix).to_q.bias": "\(a.prefix).query.bias",
                    "\(a.prefix).to_k.weight": "\(a.prefix).key.weight", "\(a.prefix).to_k.bias": "\(a.prefix).key.bias",
                    "\(a.prefix).to_v.weight": "\(a.prefix).value.weight", "\(a.prefix).to_v.bias": "\(a.prefix).value.bias",
                    "\(a.prefix).to_out.0.weight": "\(a.prefix).proj_attn.weight", "\(a.prefix).to_out.0.bias": "\(a.prefix).proj_attn.bias",
                    "\(a.prefix).group_norm.weight": "\(a.prefix).group_norm.weight", "\(a.prefix).group_norm.bias": "\(a.prefix).group_norm.bias",
                ])
                let r = Weights(renamed, prefix: a.prefix)
                attnNorm = try GroupNorm(r["group_norm"], channels: channels, groups: groups, eps: 1e-6)
                attention = try Attention(r, queryDim: channels, contextDim: nil, heads: 1, headDim: channels, qkvBias: true)
            } else {
                attnNorm = try GroupNorm(a["group_norm"], channels: channels, groups: groups, eps: 1e-6)
                attention = try Attention(a, queryDim: channels, contextDim: nil, heads: 1, headDim: channels, qkvBias: true)
            }
        } else {
            attnNorm = nil
            attention = nil
        }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = resnet1(x, temb: nil)
        if let attention, let attnNorm {
            let hh = h.shape[2], ww = h.shape[3]
            var a = attention(attnNorm(h).channelsLast()).channelsFirst(height: hh, width: ww)
            a.add(h)
            h = a
        }
        return resnet2(h, temb: nil)
    }
}

/// diffusers `AutoencoderKL`: the decoder (latents → RGB in [−1, 1]) and the encoder (RGB → latent distribution).
public struct AutoencoderKL: Sendable {
    public let config: VAEConfig

    /// One encoder or decoder level: its resnets, then (on every level but the last) the down- or
    /// upsampling convolution.
    struct Level: Sendable {
        let resnets: [ResnetBlock2D]
        let resample: Conv2d?
    }

    struct Decoder: Sendable {
        let postQuantConv: Conv2d, convIn: Conv2d
        let mid: VAEMidBlock
        let up: [Level]
        let normOut: GroupNorm, convOut: Conv2d
    }

    struct Encoder: Sendable {
        let convIn: Conv2d
        let down: [Level]
        let mid: VAEMidBlock
        let normOut: GroupNorm, convOut: Conv2d, quantConv: Conv2d
    }

    let decoder: Decoder
    let encoder: Encoder?

    /// The levels `\(block).i` of an encoder or decoder, one per entry of `channels`: `resnets` blocks
    /// without time embedding (eps 1e-6), the first from the previous level's width (level 0: its own),
    /// all to `channels[i]`; then `resample(weights, width)` on every level but the last.
    static func levels(_ w: Weights, _ block: String, channels: [Int], resnets count: Int, groups: Int,
                       resample: (Weights, Int) throws -> Conv2d) throws -> [Level] {
        var output = channels[0]
        return try channels.indices.map { i in
            let input = output
            output = channels[i]
            let s = w["\(block).\(i)"]
            let resnets = try (0..<count).map {
                try ResnetBlock2D(s["resnets.\($0)"], in: $0 == 0 ? input : output, out: output, temb: nil, groups: groups, eps: 1e-6)
            }
            return Level(resnets: resnets, resample: i < channels.count - 1 ? try resample(s, output) : nil)
        }
    }

    /// Loads the decoder and, when its weights are present (or `requireEncoder`), the encoder.
    public init(config: VAEConfig, weights w: Weights, requireEncoder: Bool = false) throws {
        self.config = config
        let ch = config.blockOutChannels, levels = ch.count, g = config.normGroups, lat = config.latentChannels
        let d = w["decoder"]
        let ups = try Self.levels(d, "up_blocks", channels: ch.reversed(), resnets: config.layersPerBlock + 1, groups: g) { s, c in
            try Conv2d(s["upsamplers.0.conv"], in: c, out: c, kernel: 3, padding: 1)
        }
        decoder = Decoder(
            postQuantConv: try Conv2d(w["post_quant_conv"], in: lat, out: lat, kernel: 1),
            convIn: try Conv2d(d["conv_in"], in: lat, out: ch[levels - 1], kernel: 3, padding: 1),
            mid: try VAEMidBlock(d["mid_block"], channels: ch[levels - 1], groups: g, attention: config.midHasAttention),
            up: ups,
            normOut: try GroupNorm(d["conv_norm_out"], channels: ch[0], groups: g, eps: 1e-6),
            convOut: try Conv2d(d["conv_out"], in: ch[0], out: config.outChannels, kernel: 3, padding: 1))

        let e = w["encoder"]
        if requireEncoder || e.contains("conv_in.weight") {
            let downs = try Self.levels(e, "down_blocks", channels: ch, resnets: config.layersPerBlock, groups: g) { s, c in
                try Conv2d(s["downsamplers.0.conv"], in: c, out: c, kernel: 3, stride: 2, padding: 0)
            }
            encoder = Encoder(
                convIn: try Conv2d(e["conv_in"], in: config.inChannels, out: ch[0], kernel: 3, padding: 1),
                down: downs,
                mid: try VAEMidBlock(e["mid_block"], channels: ch[levels - 1], groups: g, attention: config.midHasAttention),
                normOut: try GroupNorm(e["conv_norm_out"], channels: ch[levels - 1], groups: g, eps: 1e-6),
                convOut: try Conv2d(e["conv_out"], in: ch[levels - 1], out: 2 * lat, kernel: 3, padding: 1),
                quantConv: try Conv2d(w["quant_conv"], in: 2 * lat, out: 2 * lat, kernel: 1))
        } else {
            encoder = nil
        }
    }

    /// Decodes raw decoder input z (latents already divided by the scaling factor) to RGB in about [−1, 1].
    public func decode(_ z: Tensor) -> Tensor {
        prepareIdleSpin(imagePixels: z.shape[0] * z.shape[2] * z.shape[3] << (2 * (config.blockOutChannels.count - 1)))
        var h = decoder.convIn(decoder.postQuantConv(z))
        h = decoder.mid(h)
        for block in decoder.up {
            for r in block.resnets { h = r(h, temb: nil) }
            if let us = block.resample { h = us(Kernels.upsampleNearest(h)) }
        }
        return decoder.convOut(decoder.normOut(h, silu: true))
    }

    /// OpenBLAS's idle spin for a pass whose full-resolution 3×3 convolutions cover `imagePixels` (see `BLASRuntime`).
    private func prepareIdleSpin(imagePixels: Int) {
        let c = config.blockOutChannels[0]
        BLASRuntime.prepare(idleSpin: .forConvolution3x3(pixels: imagePixels, channelsIn: c, channelsOut: c))
    }

    /// True when the encoder weights were loaded.
    public var hasEncoder: Bool { encoder != nil }

    /// Encodes RGB in [−1, 1] [B, 3, H, W] to the latent distribution's mean and log-variance
    /// (log-variance clamped to [−30, 20] as diffusers does).
    public func encode(_ x: Tensor) throws -> (mean: Tensor, logvar: Tensor) {
        guard let e = encoder else {
            throw ModelError(code: .missingTensor, origin: "vae", tensor: "encoder.conv_in.weight", message: "this VAE has no encoder weights")
        }
        prepareIdleSpin(imagePixels: x.shape[0] * x.shape[2] * x.shape[3])
        var h = e.convIn(x)
        for block in e.down {
            for r in block.resnets { h = r(h, temb: nil) }
            if let ds = block.resample { h = ds.paddedBottomRight(h) }
        }
        h = e.mid(h)
        let moments = e.quantConv(e.convOut(e.normOut(h, silu: true)))
        let b = moments.shape[0], c = moments.shape[1] / 2, hw = moments.shape[2] * moments.shape[3]
        let shape = [b, c, moments.shape[2], moments.shape[3]]
        var mean = Tensor(uninitializedShape: shape), logvar = Tensor(uninitializedShape: shape)
        moments.withUnsafeBufferPointer { m in
            mean.withUnsafeMutableBufferPointer { pm in
                for i in 0..<b { (pm.baseAddress! + i * c * hw).update(from: m.baseAddress! + i * 2 * c * hw, count: c * hw) }
            }
            logvar.withUnsafeMutableBufferPointer { pl in
                for i in 0..<b {
                    for k in 0..<(c * hw) { pl[i * c * hw + k] = min(20, max(-30, m[i * 2 * c * hw + c * hw + k])) }
                }
            }
        }
        return (mean, logvar)
    }
}
