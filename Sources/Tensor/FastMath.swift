/// Vectorised transcendental functions for the hot loops (softmax, SiLU, GELU).
///
/// `exp` follows the classic Cephes scheme: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for
/// e^r, and 2^n assembled in the exponent bits. Relative error ≤ 2 ulp over the float range (tested
/// against Foundation's `exp` in TensorTests).
public enum FastMath {
    public typealias V = SIMD8<Float>

    @inlinable @inline(__always)
    public static func exp(_ x: V) -> V {
        var x = x.clamped(lowerBound: V(repeating: -87.3), upperBound: V(repeating: 88.7))
        // Round to nearest with the 1.5·2²³ trick: the integer lands in the low mantissa bits.
        let shifted = x * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        x = x - n * 0.693_359_375
        x = x + n * 2.121_944_4e-4
        var p = V(repeating: 1.987_569_15e-4)
        p = p * x + 1.398_199_95e-3
        p = p * x + 8.333_451_9e-3
        p = p * x + 4.166_579_6e-2
        p = p * x + 1.666_666_55e-1
        p = p * x + 5.000_000_1e-1
        let x2 = x * x
        let r = p * x2 + x + 1
        let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return r * unsafeBitCast(bits, to: V.self)
    }

    /// Scalar version of `exp(_:)`.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }

    /// erf(x), Abramowitz–Stegun 7.1.26 absolute error below 6e-7 in float (observed 4.7e-7).
    @inlinable @inline(__always)
    public static func erf(_ x: V) -> V {
        let sign = V(repeating: 1).replacing(with: -1, where: x .< 0)
        let a = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + 0.327_591_1 * a)
        var y = V(repeating: 1.061_405_429)
        y = y * t - 1.453_152_027
        y = y * t + 1.421_413_741
        y = y * t - 0.284_496_736
        y = y * t + 0.254_829_592
        let negSquare: V = -(a * a)
        y = 1 - y * t * exp(negSquare)
        return sign * y
    }

    /// In place: p[i] = exp(p[i] − shift) for i < n; returns the sum.
    @inlinable
    public static func expShiftedSum(_ p: UnsafeMutablePointer<Float>, count n: Int, shift: Float) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        let s = V(repeating: shift)
        while i + 8 <= n {
            let v = exp(UnsafeRawPointer(p + i).loadUnaligned(as: V.self) - s)
            UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self)
            acc += v
            i += 8
        }
        var total = acc.sum()
        while i < n { let v = exp(p[i] - shift); p[i] = v; total += v; i += 1 }
        return total
    }

    /// Applies `f` to n floats from `src` into `dst` (may alias), 8 at a time.
    @inlinable
    public static func apply(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count n: Int, _ f: (V) -> V) {
        var i = 0
        while i + 8 <= n {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: f(UnsafeRawPointer(src + i).loadUnaligned(as: V.self)), as: V.self)
            i += 8
        }
        if i < n {
            var tail = V(repeating: 0)
            for k in 0..<(n - i) { tail[k] = src[i + k] }
            let r = f(tail)
            for k in 0..<(n - i) { dst[i + k] = r[k] }
        }
    }

    @inlinable @inline(__always)
    public static func silu(_ v: V) -> V { v / (1 + exp(-v)) }

    @inlinable @inline(__always)
    public static func gelu(_ v: V) -> V { 0.5 * v * (1 + erf(v * 0.707_106_781_186_547_5)) }
}
