import Foundation
import Tensor
import Testing

/// Kernels against naive double-precision loops written straight from the PyTorch definitions.
@Suite("CPU kernels")
struct KernelTests {
    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1
        return Tensor(shape: shape) { b in
            for i in b.indices {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                b[i] = Float(Double(state >> 11) / Double(1 << 53) * 2 - 1)
            }
        }
    }

    static func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor, stride: Int, pad: Int, padEnd: Int) -> [Float] {
        let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, k) = (w.shape[0], w.shape[2])
        let oh = (h + 2 * pad + padEnd - k) / stride + 1, ow = (wd + 2 * pad + padEnd - k) / stride + 1
        let xs = x.scalars, ws = w.scalars, bs = b.scalars
        var out = [Float](repeating: 0, count: n * cout * oh * ow)
        for i in 0..<n { for o in 0..<cout { for y in 0..<oh { for xx in 0..<ow {
            var s = Double(bs[o])
            for c in 0..<cin { for ky in 0..<k { for kx in 0..<k {
                let iy = y * stride - pad + ky, ix = xx * stride - pad + kx
                if iy >= 0, iy < h, ix >= 0, ix < wd {
                    s += Double(xs[((i * cin + c) * h + iy) * wd + ix]) * Double(ws[((o * cin + c) * k + ky) * k + kx])
                }
            } } }
            out[((i * cout + o) * oh + y) * ow + xx] = Float(s)
        } } } }
        return out
    }

    @Test("conv2d matches a direct convolution for 3×3/1×1 kernels, strides 1 and 2, symmetric and bottom-right padding",
          arguments: [(3, 1, 1, 0), (3, 2, 1, 0), (1, 1, 0, 0), (3, 2, 0, 1), (3, 1, 0, 0)])
    func conv2d(kernel: Int, stride: Int, pad: Int, padEnd: Int) {
        let x = Self.random([2, 5, 9, 7], seed: 1)
        let w = Self.random([6, 5, kernel, kernel], seed: 2)
        let b = Self.random([6], seed: 3)
        let y = Kernels.conv2d(x, weight: w, bias: b, stride: stride, padding: pad, extraPadEnd: padEnd)
        let expected = Self.naiveConv(x, w, b, stride: stride, pad: pad, padEnd: padEnd)
        #expect(y.count == expected.count)
        let diff = zip(y.scalars, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(diff < 1e-5)  // observed ~1e-6
    }

    @Test("conv2d on an image too large for one column buffer is computed in row tiles, per image, correctly")
    func conv2dTiled() {
        let x = Self.random([1, 64, 200, 200], seed: 21)
        let w = Self.random([2, 64, 3, 3], seed: 22)
        let b = Self.random([2], seed: 23)
        let y = Kernels.conv2d(x, weight: w, bias: b, stride: 1, padding: 1)
        let expected = Self.naiveConv(x, w, b, stride: 1, pad: 1, padEnd: 0)
        let diff = zip(y.scalars, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(diff < 1e-4)  // observed ~5e-6 (576-term sums)
    }

    @Test("group norm with fused SiLU matches the definition")
    func groupNorm() {
        let x = Self.random([2, 8, 3, 5], seed: 4) * 3
        let w = Self.random([8], seed: 5), b = Self.random([8], seed: 6)
        let y = Kernels.groupNorm(x, groups: 4, weight: w, bias: b, eps: 1e-5, silu: true).scalars
        let xs = x.scalars, ws = w.scalars, bs = b.scalars
        var worst: Double = 0
        for n in 0..<2 { for g in 0..<4 {
            let idx = (0..<(2 * 15)).map { (n * 8 + g * 2) * 15 + $0 }
            let mean = idx.map { Double(xs[$0]) }.reduce(0, +) / 30
            let varc = idx.map { pow(Double(xs[$0]) - mean, 2) }.reduce(0, +) / 30
            for i in idx {
                let c = (i / 15) % 8
                let v = (Double(xs[i]) - mean) / (varc + 1e-5).squareRoot() * Double(ws[c]) + Double(bs[c])
                worst = max(worst, abs(v / (1 + exp(-v)) - Double(y[i])))
            }
        } }
        #expect(worst < 1e-5)
    }

    /// Shapes (queries, keys, heads, head size): tiny; more rows than one query block, more keys than one key
    /// block and a head size that leaves a remainder for every output tile; SD's 40 with keys not a multiple
    /// of a score tile (77, as cross-attention).
    static let attentionShapes = [(11, 13, 3, 4), (70, 140, 2, 7), (37, 77, 2, 40)]

    @Test("tiled multi-head attention matches softmax(QKᵀ/√d)V, with and without a causal mask",
          arguments: [false, true], 0..<3)
    func attention(causal: Bool, shape: Int) {
        let (nq, nkFree, heads, d) = Self.attentionShapes[shape]
        let (b, nk) = (2, causal ? nq : nkFree)
        let q = Self.random([b, nq, heads * d], seed: 7), k = Self.random([b, nk, heads * d], seed: 8), v = Self.random([b, nk, heads * d], seed: 9)
        let y = Kernels.attention(q: q, k: k, v: v, heads: heads, causal: causal).scalars
        let qs = q.scalars, ks = k.scalars, vs = v.scalars, w = heads * d
        var worst: Double = 0
        for bi in 0..<b { for h in 0..<heads { for i in 0..<nq {
            let limit = causal ? i + 1 : nk
            var scores = [Double](repeating: 0, count: limit)
            for j in 0..<limit {
                var dot: Double = 0
                for e in 0..<d {
                    let qv = Double(qs[(bi * nq + i) * w + h * d + e])
                    let kv = Double(ks[(bi * nk + j) * w + h * d + e])
                    dot += qv * kv
                }
                scores[j] = dot / Double(d).squareRoot()
            }
            let m = scores.max()!
            scores = scores.map { exp($0 - m) }
            let s = scores.reduce(0, +)
            for e in 0..<d {
                var o: Double = 0
                for j in 0..<limit { o += scores[j] / s * Double(vs[(bi * nk + j) * w + h * d + e]) }
                worst = max(worst, abs(o - Double(y[(bi * nq + i) * w + h * d + e])))
            }
        } } }
        #expect(worst < 1e-5, "shape \(Self.attentionShapes[shape]) causal \(causal): max error \(worst)")
    }

    @Test("linear, layer norm, GEGLU and nearest upsampling follow their definitions")
    func smallOps() {
        let x = Self.random([3, 4], seed: 10), w = Self.random([5, 4], seed: 11), b = Self.random([5], seed: 12)
        let y = Kernels.linear(x, weight: w, bias: b).scalars
        for r in 0..<3 { for o in 0..<5 {
            let e = (0..<4).map { x.scalars[r * 4 + $0] * w.scalars[o * 4 + $0] }.reduce(0, +) + b.scalars[o]
            #expect(abs(e - y[r * 5 + o]) < 1e-5)
        } }
        let ln = Kernels.layerNorm(x, weight: Tensor(shape: [4], values: [1, 1, 1, 1]), bias: Tensor(zeros: [4]), eps: 1e-5).scalars
        for r in 0..<3 {
            let row = Array(ln[(r * 4)..<(r * 4 + 4)])
            #expect(abs(row.reduce(0, +)) < 1e-5)
            #expect(abs(row.map { $0 * $0 }.reduce(0, +) / 4 - 1) < 1e-3)
        }
        let g = Kernels.geglu(Tensor(shape: [1, 4], values: [2, 3, 1, -1])).scalars
        #expect(abs(g[0] - 2 * 0.841_344_7) < 1e-5 && abs(g[1] - 3 * -0.158_655_3) < 1e-5)
        let u = Kernels.upsampleNearest(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])).scalars
        #expect(u == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    }
}

@Suite("FastMath")
struct FastMathTests {
    @Test("vectorised exp stays within 3 ulp of libm over the softmax range")
    func expAccuracy() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let e = Float(Foundation.exp(Double(x)))
            let ours = FastMath.exp(x)
            worst = max(worst, abs(ours - e) / e)
            x += 0.0137
        }
        #expect(worst < 3.6e-7)  // observed ~1.2e-7
    }

    @Test("vectorised erf is within 6e-7 of libm")
    func erfAccuracy() {
        var worst: Float = 0
        var x: Float = -6
        while x < 6 {
            let ours = FastMath.erf(FastMath.V(repeating: x))[0]
            worst = max(worst, abs(ours - Float(Foundation.erf(Double(x)))))
            x += 0.001
        }
        #expect(worst < 6e-7)  // observed 4.7e-7 (float evaluation of the A&S 7.1.26 form)
    }
}
