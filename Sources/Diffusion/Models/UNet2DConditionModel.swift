import Foundation
public import Tensor

/// diffusers `UNet2DConditionModel` (SD 1.x/2.x): noise prediction ε(x_t, t, context).
///
/// Built entirely from `UNetConfig`; weights named as diffusers names them (`down_blocks.0.resnets.0.conv1.weight`, …).
public struct UNet2DConditionModel: Sendable {
    public let config: UNetConfig

    struct DownBlock: Sendable {
        var resnets: [ResnetBlock2D]
        var attentions: [Transformer2DModel]
        var downsampler: Conv2d?
    }

    struct UpBlock: Sendable {
        var resnets: [ResnetBlock2D]
        var attentions: [Transformer2DModel]
        var upsampler: Conv2d?
    }

    let timeLinear1: Linear, timeLinear2: Linear
    /// `time_embedding.cond_proj` (no bias) of an LCM-distilled UNet.
    let timeCondProj: Linear?
    let convIn: Conv2d
    let down: [DownBlock]
    let midResnet1: ResnetBlock2D, midAttention: Transformer2DModel, midResnet2: ResnetBlock2D
    let up: [UpBlock]
    let normOut: GroupNorm
    let convOut: Conv2d

    /// Loads every weight, checking its shape against `config`.
    public init(config: UNetConfig, weights w: Weights) throws {
        self.config = config
        let ch = config.blockOutChannels
        let levels = ch.count
        let temb = ch[0] * 4
        let groups = config.normGroups, eps = config.normEps
        timeLinear1 = try Linear(w["time_embedding.linear_1"], in: ch[0], out: temb)
        timeLinear2 = try Linear(w["time_embedding.linear_2"], in: temb, out: temb)
        timeCondProj = try config.timeCondProjDim.map { try Linear(w["time_embedding.cond_proj"], in: $0, out: ch[0], bias: false) }
        convIn = try Conv2d(w["conv_in"], in: config.inChannels, out: ch[0], kernel: 3, padding: 1)

        func transformer(_ scope: Weights, _ channels: Int, _ heads: Int) throws -> Transformer2DModel {
            try Transformer2DModel(scope, channels: channels, heads: heads, contextDim: config.crossAttentionDim,
                                   groups: groups, layers: config.transformerLayers, linearProjection: config.linearProjection)
        }

        var downBlocks: [DownBlock] = []
        var output = ch[0]
        for i in 0..<levels {
            let input = output
            output = ch[i]
            let scope = w["down_blocks.\(i)"]
            var block = DownBlock(resnets: [], attentions: [], downsampler: nil)
            for j in 0..<config.layersPerBlock {
                block.resnets.append(try ResnetBlock2D(scope["resnets.\(j)"], in: j == 0 ? input : output, out: output, temb: temb, groups: groups, eps: eps))
                if config.downHasAttention[i] {
                    block.attentions.append(try transformer(scope["attentions.\(j)"], output, config.heads[i]))
                }
            }
            if i < levels - 1 {
                block.downsampler = try Conv2d(scope["downsamplers.0.conv"], in: output, out: output, kernel: 3, stride: 2, padding: 1)
            }
            downBlocks.append(block)
        }
        down = downBlocks

        let last = ch[levels - 1]
        midResnet1 = try ResnetBlock2D(w["mid_block.resnets.0"], in: last, out: last, temb: temb, groups: groups, eps: eps)
        midAttention = try transformer(w["mid_block.attentions.0"], last, config.heads[levels - 1])
        midResnet2 = try ResnetBlock2D(w["mid_block.resnets.1"], in: last, out: last, temb: temb, groups: groups, eps: eps)

        let reversedChannels = Array(ch.reversed())
        let reversedHeads = Array(config.heads.reversed())
        var upBlocks: [UpBlock] = []
        output = reversedChannels[0]
        for i in 0..<levels {
            let previous = output
            output = reversedChannels[i]
            let input = reversedChannels[min(i + 1, levels - 1)]
            let scope = w["up_blocks.\(i)"]
            var block = UpBlock(resnets: [], attentions: [], upsampler: nil)
            let layers = config.layersPerBlock + 1
            for j in 0..<layers {
                let skip = j == layers - 1 ? input : output
                let resIn = j == 0 ? previous : output
                block.resnets.append(try ResnetBlock2D(scope["resnets.\(j)"], in: resIn + skip, out: output, temb: temb, groups: groups, eps: eps))
                if config.upHasAttention[i] {
                    block.attentions.append(try transformer(scope["attentions.\(j)"], output, reversedHeads[i]))
                }
            }
            if i < levels - 1 {
                block.upsampler = try Conv2d(scope["upsamplers.0.conv"], in: output, out: output, kernel: 3, padding: 1)
            }
            upBlocks.append(block)
        }
        up = upBlocks
        normOut = try GroupNorm(w["conv_norm_out"], channels: ch[0], groups: groups, eps: eps)
        convOut = try Conv2d(w["conv_out"], in: ch[0], out: config.outChannels, kernel: 3, padding: 1)
    }

    /// Sinusoidal timestep embedding as diffusers' `Timesteps` computes it in float32.
    public func timestepEmbedding(_ t: Float, batch: Int) -> Tensor {
        let dim = config.blockOutChannels[0]
        let half = dim / 2
        var row = [Float](repeating: 0, count: dim)
        let logMax = Float(-log(10000.0))
        for k in 0..<half {
            let exponent = logMax * Float(k) / Float(Double(half) - config.freqShift)
            let freq = Float(exp(Double(exponent)))
            let arg = Double(t * freq)
            let s = Float(sin(arg)), c = Float(cos(arg))
            if config.flipSinToCos { row[k] = c; row[half + k] = s } else { row[k] = s; row[half + k] = c }
        }
        return Tensor(shape: [batch, dim], values: Array((0..<batch).map { _ in row }.joined()))
    }

    /// diffusers' `get_guidance_scale_embedding(w, embedding_dim)` (pipeline_stable_diffusion.py, float32):
    /// `[sin(1000·w·f_k), cos(1000·w·f_k)]` with `f_k = exp(−k·ln(10000)/(dim/2 − 1))`, [batch, dim].
    public static func guidanceScaleEmbedding(_ w: Float, dim: Int, batch: Int) -> Tensor {
        let half = dim / 2
        let scaled = w * 1000
        let step = Float(log(10000.0)) / Float(half - 1)
        var row = [Float](repeating: 0, count: dim)
        for k in 0..<half {
            let freq = expf(Float(k) * -step)
            let arg = scaled * freq
            row[k] = sinf(arg)
            row[half + k] = cosf(arg)
        }
        return Tensor(shape: [batch, dim], values: Array((0..<batch).map { _ in row }.joined()))
    }

    /// Predicts the noise (or v) for latents `x` [B, C, h, w] at timestep `t` given `context` [B, N, D].
    /// - Parameter timestepCond: an LCM-distilled UNet's guidance embedding [B, time_cond_proj_dim]
    ///   (`guidanceScaleEmbedding`), added to the sinusoidal time embedding through `cond_proj`.
    ///
    /// With `sharePrefix` (the default), a batch made of two identical halves — classifier-free guidance's
    /// [x, x] — computes everything before the first cross-attention once (conv_in, the first ResNet, the
    /// first transformer's self-attention) and copies it: the same operations on the same values; only
    /// GEMM blocking over a different batch size changes the rounding (tested against `sharePrefix: false`).
    public func callAsFunction(_ x: Tensor, timestep t: Float, context: Tensor, timestepCond: Tensor? = nil,
                               sharePrefix: Bool = true) -> Tensor {
        let batch = x.shape[0]
        let c0 = config.blockOutChannels[0]
        BLASRuntime.prepare(idleSpin: .forConvolution3x3(pixels: batch * x.shape[2] * x.shape[3], channelsIn: c0, channelsOut: c0))
        var sinusoid = timestepEmbedding(t, batch: batch)
        if let timeCondProj, let timestepCond { sinusoid = sinusoid + timeCondProj(timestepCond) }
        let emb = Kernels.silu(timeLinear2(Kernels.silu(timeLinear1(sinusoid))))
        let shared = sharePrefix && down.first.map { !$0.attentions.isEmpty && !$0.resnets.isEmpty } == true
            && x.hasIdenticalBatchParts(2) && emb.hasIdenticalBatchParts(2)
        var h: Tensor
        var skips: [Tensor]
        var first = 0   // resnets of the first down block already done
        if shared {
            let half = x.slice(0..<(batch / 2))
            let stem = convIn(half)
            skips = [stem.repeatedBatch(2)]
            h = down[0].resnets[0](stem, temb: emb.slice(0..<(batch / 2)))
            h = down[0].attentions[0](sharing: h, copies: 2, context: context)
            skips.append(h)
            first = 1
        } else {
            h = convIn(x)
            skips = [h]
        }
        for (i, block) in down.enumerated() {
            for j in block.resnets.indices where i > 0 || j >= first {
                h = block.resnets[j](h, temb: emb)
                if !block.attentions.isEmpty { h = block.attentions[j](h, context: context) }
                skips.append(h)
            }
            if let ds = block.downsampler {
                h = ds(h)
                skips.append(h)
            }
        }
        h = midResnet2(midAttention(midResnet1(h, temb: emb), context: context), temb: emb)
        for block in up {
            for j in block.resnets.indices {
                let skip = skips.removeLast()
                h = block.resnets[j](Tensor.concatenateChannels(h, skip), temb: emb)
                if !block.attentions.isEmpty { h = block.attentions[j](h, context: context) }
            }
            if let us = block.upsampler {
                // Upsample to the next skip's size (handles latents whose size is not a multiple of 2^levels).
                let target = skips.last.map { ($0.shape[2], $0.shape[3]) } ?? (h.shape[2] * 2, h.shape[3] * 2)
                h = us(Kernels.upsampleNearest(h, height: target.0, width: target.1))
            }
        }
        return convOut(normOut(h, silu: true))
    }
}
