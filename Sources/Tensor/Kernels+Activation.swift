internal import CKernels

/// Element-wise activations, vectorised through `FastMath`.
extension Kernels {
    /// SiLU, x·sigmoid(x).
    public static func silu(_ x: Tensor) -> Tensor { vectorMap(x, FastMath.silu) }

    /// GELU with the erf form (PyTorch's default), erf to 2e-7.
    public static func gelu(_ x: Tensor) -> Tensor { vectorMap(x, FastMath.gelu) }

    /// CLIP's quick GELU, x·sigmoid(1.702x).
    public static func quickGelu(_ x: Tensor) -> Tensor { vectorMap(x) { $0 / (1 + FastMath.exp(-1.702 * $0)) } }

    static func vectorMap(_ x: Tensor, _ f: (FastMath.V) -> FastMath.V) -> Tensor {
        Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { src in FastMath.apply(src.baseAddress!, out.baseAddress!, count: out.count, f) }
        }
    }

    /// GEGLU: for x [.., 2·n] returns x[.., :n] · gelu(x[.., n:]), rows in parallel through `CKernels`.
    public static func geglu(_ x: Tensor) -> Tensor {
        let two = x.shape.last!, half = two / 2
        let rows = x.count / two
        var shape = x.shape
        shape[shape.count - 1] = half
        return Tensor(shape: shape) { out in
            x.withUnsafeBufferPointer { px in
                Parallel.forRanges(rows, minimum: max(1, 16_384 / max(half, 1))) { r in
                    sdk_geglu(px.baseAddress! + r.lowerBound * two, out.baseAddress! + r.lowerBound * half, r.count, Int32(half))
                }
            }
        }
    }
}
