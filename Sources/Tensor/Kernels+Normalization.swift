internal import CKernels

/// GroupNorm and LayerNorm through the runtime-dispatched C kernels.
extension Kernels {
    /// GroupNorm over NCHW (or N×C for rank 2) with per-channel affine; optionally SiLU afterwards.
    /// Groups run in parallel through `CKernels` (statistics: float within blocks of 512, double across).
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float, silu: Bool = false) -> Tensor {
        let n = x.shape[0], c = x.shape[1]
        let spatial = x.count / max(n * c, 1)
        precondition(c % groups == 0, "groupNorm: \(c) channels not divisible into \(groups) groups")
        let cpg = c / groups
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
                Parallel.forEach(n * groups) { item in
                    let g = item % groups
                    let base = item * cpg * spatial
                    sdk_group_norm(px.baseAddress! + base, out.baseAddress! + base, Int32(cpg), spatial,
                                   pw.baseAddress! + g * cpg, pb.baseAddress! + g * cpg, eps, silu ? 1 : 0)
                }
            } } }
        }
    }

    /// LayerNorm over the last dimension, rows in parallel through `CKernels`.
    public static func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
        let d = x.shape.last!
        let rows = x.count / d
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
                Parallel.forRanges(rows, minimum: max(1, 16_384 / max(d, 1))) { r in
                    sdk_layer_norm(px.baseAddress! + r.lowerBound * d, out.baseAddress! + r.lowerBound * d, r.count, Int32(d),
                                   pw.baseAddress!, pb.baseAddress!, eps)
                }
            } } }
        }
    }
}
