import Foundation
public import Tensor

/// Interpolation between two prompt embeddings, over the whole flattened tensor in double precision.
public enum EmbeddingInterpolation {
    /// Above this |cos θ| the vectors are treated as parallel and interpolated linearly.
    public static let parallelThreshold = 0.9995

    /// `slerp(t, a, b)`: θ = arccos(â·b̂); `(sin((1−t)θ)·a + sin(tθ)·b) / sin θ`, falling back to
    /// `(1−t)·a + t·b` when |â·b̂| > 0.9995 or when `linear` is set. Computed in float64, returned as float32.
    public static func interpolate(_ a: Tensor, _ b: Tensor, t: Double, linear: Bool = false) -> Tensor {
        precondition(a.shape == b.shape, "embeddings \(a.shape) and \(b.shape) differ in shape")
        let (wa, wb) = weights(a, b, t: t, linear: linear)
        return Tensor(shape: a.shape) { out in
            a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in
                for i in 0..<out.count { out[i] = Float(wa * Double(x[i]) + wb * Double(y[i])) }
            } }
        }
    }

    /// The cosine of the angle between the flattened embeddings, â·b̂, in float64.
    public static func cosine(_ a: Tensor, _ b: Tensor) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in
            for i in 0..<x.count {
                let p = Double(x[i]), q = Double(y[i])
                dot += p * q; na += p * p; nb += q * q
            }
        } }
        guard na > 0, nb > 0 else { return 1 }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    /// The weights of `a` and `b` at position `t`.
    static func weights(_ a: Tensor, _ b: Tensor, t: Double, linear: Bool) -> (Double, Double) {
        let c = cosine(a, b)
        if linear || abs(c) > parallelThreshold { return (1 - t, t) }
        let theta = acos(c)
        let s = sin(theta)
        return (sin((1 - t) * theta) / s, sin(t * theta) / s)
    }
}
