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

    /// GEGLU: for x [.., 2·n] returns x[.., :n] · gelu(x[.., n:]).
    public static func geglu(_ x: Tensor) -> Tensor {
        let two = x.shape.last!, half = two / 2
        let rows = x.count / two
        var shape = x.shape
        shape[shape.count - 1] = half
        return Tensor(shape: shape) { out in
            x.withUnsafeBufferPointer { px in
                for r in 0..<rows {
                    let src = px.baseAddress! + r * two, dst = out.baseAddress! + r * half
                    FastMath.apply(src + half, dst, count: half, FastMath.gelu)
                    for i in 0..<half { dst[i] *= src[i] }
                }
            }
        }
    }
}
