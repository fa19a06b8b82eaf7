public import Tensor

/// diffusers `BasicTransformerBlock`: self-attention, cross-attention, GEGLU feed-forward, pre-LayerNorm.
public struct BasicTransformerBlock: Sendable {
    let norm1: LayerNorm, attn1: Attention, norm2: LayerNorm, attn2: Attention, norm3: LayerNorm
    let ffIn: Linear, ffOut: Linear

    public init(_ w: Weights, dim: Int, heads: Int, headDim: Int, contextDim: Int) throws {
        norm1 = try LayerNorm(w["norm1"], dim: dim, eps: 1e-5)
        attn1 = try Attention(w["attn1"], queryDim: dim, contextDim: nil, heads: heads, headDim: headDim, qkvBias: false)
        norm2 = try LayerNorm(w["norm2"], dim: dim, eps: 1e-5)
        attn2 = try Attention(w["attn2"], queryDim: dim, contextDim: contextDim, heads: heads, headDim: headDim, qkvBias: false)
        norm3 = try LayerNorm(w["norm3"], dim: dim, eps: 1e-5)
        ffIn = try Linear(w["ff.net.0.proj"], in: dim, out: dim * 8)
        ffOut = try Linear(w["ff.net.2"], in: dim * 4, out: dim)
    }

    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        afterSelfAttention(selfAttention(x), context: context)
    }

    /// The part that sees only the sequence: x + attn1(norm1(x)).
    func selfAttention(_ x: Tensor) -> Tensor {
        var h = x
        h.add(attn1(norm1(h)))
        return h
    }

    /// The rest: cross-attention to `context`, then the feed-forward.
    func afterSelfAttention(_ x: Tensor, context: Tensor) -> Tensor {
        var h = x
        h.add(attn2(norm2(h), context: context))
        h.add(feedForward(norm3(h)))
        return h
    }

    /// GEGLU feed-forward, 1024 rows at a time: the 8·dim-wide hidden activations of a 64×64 map
    /// (84 MB for SD 1.5's batch 2) never exist at once.
    func feedForward(_ x: Tensor) -> Tensor {
        let dim = x.shape.last!, rows = x.count / dim, chunk = 1024
        guard rows > chunk else { return ffOut(Kernels.geglu(ffIn(x))) }
        let flat = x.reshaped([rows, dim])
        let parts = stride(from: 0, to: rows, by: chunk).map { r0 in
            ffOut(Kernels.geglu(ffIn(flat.slice(r0..<min(rows, r0 + chunk)))))
        }
        return Tensor.concatenate(parts).reshaped(x.shape)
    }
}

/// diffusers `Transformer2DModel` for continuous inputs: GroupNorm, proj_in (1×1 conv or linear),
/// transformer blocks, proj_out, residual.
public struct Transformer2DModel: Sendable {
    let norm: GroupNorm
    let projInConv: Conv2d?, projInLinear: Linear?
    let projOutConv: Conv2d?, projOutLinear: Linear?
    let blocks: [BasicTransformerBlock]

    public init(_ w: Weights, channels: Int, heads: Int, contextDim: Int, groups: Int, layers: Int, linearProjection: Bool) throws {
        guard heads > 0, channels % heads == 0 else {
            throw ModelError(code: .badConfig, origin: w.source.origin, tensor: w.prefix,
                             message: "\(channels) channels cannot be split into \(heads) attention heads")
        }
        norm = try GroupNorm(w["norm"], channels: channels, groups: groups, eps: 1e-6)
        if linearProjection {
            projInLinear = try Linear(w["proj_in"], in: channels, out: channels)
            projOutLinear = try Linear(w["proj_out"], in: channels, out: channels)
            projInConv = nil; projOutConv = nil
        } else {
            projInConv = try Conv2d(w["proj_in"], in: channels, out: channels, kernel: 1)
            projOutConv = try Conv2d(w["proj_out"], in: channels, out: channels, kernel: 1)
            projInLinear = nil; projOutLinear = nil
        }
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(w["transformer_blocks.\($0)"], dim: channels, heads: heads, headDim: channels / heads, contextDim: contextDim)
        }
    }

    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        var seq = projectIn(x)
        for block in blocks { seq = block(seq, context: context) }
        return projectOut(seq, residual: x)
    }

    /// The same result for a batch whose images are `copies` copies of `x` (the classifier-free guidance
    /// batch [x, x]): everything before the first cross-attention — GroupNorm, proj_in, the first block's
    /// self-attention — runs once on `x`, the rest on the whole batch, which `context` gives.
    func callAsFunction(sharing x: Tensor, copies: Int, context: Tensor) -> Tensor {
        guard let first = blocks.first, copies > 1 else { return self(x, context: context) }
        var seq = first.selfAttention(projectIn(x)).repeatedBatch(copies)
        seq = first.afterSelfAttention(seq, context: context)
        for block in blocks.dropFirst() { seq = block(seq, context: context) }
        return projectOut(seq, residual: x.repeatedBatch(copies))
    }

    private func projectIn(_ x: Tensor) -> Tensor {
        if let projInConv { return projInConv(norm(x)).channelsLast() }
        return projInLinear!(norm(x).channelsLast())
    }

    private func projectOut(_ seq: Tensor, residual x: Tensor) -> Tensor {
        let h = x.shape[2], wd = x.shape[3]
        var out: Tensor
        if let projOutConv {
            out = projOutConv(seq.channelsFirst(height: h, width: wd))
        } else {
            out = projOutLinear!(seq).channelsFirst(height: h, width: wd)
        }
        out.add(x)
        return out
    }
}
