/// GroupNorm and LayerNorm, statistics accumulated in double.
extension Kernels {
    /// GroupNorm over NCHW (or N×C for rank 2) with per-channel affine; optionally SiLU afterwards.
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float, silu: Bool = false) -> Tensor {
        let n = x.shape[0], c = x.shape[1]
        let spatial = x.count / max(n * c, 1)
        precondition(c % groups == 0, "groupNorm: \(c) channels not divisible into \(groups) groups")
        let cpg = c / groups
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
                for b in 0..<n { for g in 0..<groups {
                    let base = (b * c + g * cpg) * spatial
                    let (mean, inv) = moments(px, from: base, count: cpg * spatial, eps: eps)
                    for cc in 0..<cpg {
                        let ch = g * cpg + cc
                        let scale = Float(inv) * pw[ch]
                        let shift = pb[ch] - Float(mean) * scale
                        let o = base + cc * spatial
                        if silu {
                            let dst = out.baseAddress! + o
                            FastMath.apply(px.baseAddress! + o, dst, count: spatial) { v in FastMath.silu(v * scale + shift) }
                        } else {
                            for i in 0..<spatial { out[o + i] = px[o + i] * scale + shift }
                        }
                    }
                } }
            } } }
        }
    }

    /// LayerNorm over the last dimension.
    public static func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
        let d = x.shape.last!
        let rows = x.count / d
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
                for r in 0..<rows {
                    let base = r * d
                    let (mean, inverse) = moments(px, from: base, count: d, eps: eps)
                    let inv = Float(inverse)
                    let fm = Float(mean)
                    for i in 0..<d { out[base + i] = (px[base + i] - fm) * inv * pw[i] + pb[i] }
                }
            } } }
        }
    }

    /// Mean and 1/√(variance + eps) of `count` elements from `base`, both passes accumulated in double
    /// (the biased variance, as PyTorch's norms use).
    @inline(__always)
    static func moments(_ p: UnsafeBufferPointer<Float>, from base: Int, count m: Int, eps: Float) -> (mean: Double, inverseStd: Double) {
        var sum: Double = 0
        for i in 0..<m { sum += Double(p[base + i]) }
        let mean = sum / Double(m)
        var sq: Double = 0
        for i in 0..<m { let d = Double(p[base + i]) - mean; sq += d * d }
        return (mean, 1 / (sq / Double(m) + Double(eps)).squareRoot())
    }
}
