// Matches PyTorch's CPU generator (`torch.Generator("cpu").manual_seed(s)`) and float32 `torch.randn`,
// PyTorch 2.x (fixtures made with torch 2.13.0+cpu; sources read at main):
// - engine and seeding: https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/core/MT19937RNGEngine.h
// - generator, random()/random64(), cached normals: https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/CPUGeneratorImpl.cpp
// - uniform and normal transforms: https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/core/TransformationHelper.h
//   and https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/core/DistributionsHelper.h
// - the 16-wide Box–Muller fill for float32 tensors of ≥ 16 elements:
//   https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/cpu/DistributionTemplates.h (`normal_fill`)
//   dispatched from https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/cpu/DistributionKernels.cpp
// The 16-block transform follows the AVX2 kernel `normal_fill_16_AVX2` that x86-64 builds run: θ is the
// float product 2π·u₂ and r = √(−2·log u₁) in float. That kernel evaluates log/sin/cos with polynomial
// approximations (avx_mathfun); we call libm's logf/sinf/cosf, so about one value in five differs in
// the last bit (max |Δ| 2.4e-7 against torch 2.13 on x86-64; see TorchGeneratorTests). The scalar
// kernel (θ as a double product) differs from the AVX2 one by up to 1.2e-6.
public import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A random source that reproduces PyTorch's CPU generator bit for bit: MT19937 seeded like
/// `manual_seed`, and `randn` drawn as `torch.randn(shape, generator=g)` draws for float32.
public struct TorchGenerator: Sendable {
    private var engine: MT19937
    /// The second value of the last double Box–Muller pair (PyTorch's `next_double_normal_sample`).
    private var cachedNormal: Double?

    /// A generator in the state `torch.Generator("cpu").manual_seed(seed)` leaves; only the low 32 bits
    /// of `seed` matter, as in PyTorch.
    public init(seed: UInt64) {
        engine = MT19937(seed: UInt32(truncatingIfNeeded: seed))
        cachedNormal = nil
    }

    /// The next 32 random bits (`CPUGeneratorImpl::random`).
    public mutating func random32() -> UInt32 { engine.next() }

    /// The next 64 random bits, first draw in the high half (`CPUGeneratorImpl::random64`).
    public mutating func random64() -> UInt64 {
        let high = UInt64(engine.next())
        let low = UInt64(engine.next())
        return high << 32 | low
    }

    /// A float uniform in [0, 1) from 24 bits of one draw.
    @inline(__always)
    mutating func uniformFloat() -> Float { Float(engine.next() & 0xFF_FFFF) * 0x1p-24 }

    /// A double uniform in [0, 1) from 53 bits of one 64-bit draw.
    @inline(__always)
    mutating func uniformDouble() -> Double { Double(random64() & ((1 << 53) - 1)) * 0x1p-53 }

    /// One standard normal double (`at::normal_distribution<double>`), using and refilling the cache.
    mutating func normalDouble() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached
        }
        let u1 = uniformDouble()
        let u2 = uniformDouble()
        let r = sqrt(-2.0 * log1p(-u2))
        let theta = 2.0 * Double.pi * u1
        cachedNormal = r * sin(theta)
        return r * cos(theta)
    }

    /// Standard normal float32 values drawn as `torch.randn(shape, generator=g)` draws them.
    public mutating func randn(_ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        precondition(count >= 0 && shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        return Tensor(shape: shape) { fill($0) }
    }

    /// `count` standard normal float32 values, as `torch.randn(count, generator=g)` draws them.
    public mutating func randnFloats(count: Int) -> [Float] {
        precondition(count >= 0, "negative count")
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { fill($0) }
        return values
    }

    /// Fills `data` with normals: the 16-block path for ≥ 16 elements, cached double normals below.
    private mutating func fill(_ data: UnsafeMutableBufferPointer<Float>) {
        let n = data.count
        guard n > 0 else { return }
        if n < 16 {
            for i in 0..<n { data[i] = Float(normalDouble()) }
            return
        }
        for i in 0..<n { data[i] = uniformFloat() }
        var i = 0
        while i + 16 <= n {
            Self.boxMuller16(data.baseAddress! + i)
            i += 16
        }
        if n % 16 != 0 {
            let tail = data.baseAddress! + (n - 16)
            for j in 0..<16 { tail[j] = uniformFloat() }
            Self.boxMuller16(tail)
        }
    }

    /// PyTorch's `normal_fill_16_AVX2` with mean 0 and std 1: float θ = 2π·u₂, float r.
    @inline(__always)
    private static func boxMuller16(_ d: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            let u1: Float = 1 - d[j]
            let u2: Float = d[j + 8]
            let radius: Float = sqrtf(-2 * logf(u1))
            let theta = Float(2.0 * Double.pi) * u2
            d[j] = radius * cosf(theta)
            d[j + 8] = radius * sinf(theta)
        }
    }
}
