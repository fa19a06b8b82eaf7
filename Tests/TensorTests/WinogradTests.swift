import Foundation
import Tensor
import Testing

/// Winograd convolutions and the kernel paths against the direct definitions.
@Suite("Winograd convolutions and kernel paths", .serialized)
struct WinogradTests {
    /// max |a − b| / max |b|.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let scale = Double(b.map { abs($0) }.max() ?? 1)
        return Double(zip(a, b).map { abs($0 - $1) }.max() ?? 0) / max(scale, 1e-30)
    }

    /// Runs `body` once per kernel path this CPU supports, restoring the active path afterwards.
    static func onEachPath(_ body: (KernelPath) -> Void) {
        let before = KernelPath.active
        defer { KernelPath.select(before) }
        for path in KernelPath.supported {
            #expect(KernelPath.select(path))
            body(path)
        }
    }

    @Test("F(2,3) and F(4,3) match the direct convolution on odd sizes, both paddings, batches and channel counts",
          arguments: [(2, 16, 24, 17, 13, 1), (1, 32, 8, 8, 8, 1), (1, 9, 16, 10, 30, 0), (2, 130, 20, 12, 12, 1), (3, 8, 8, 5, 3, 1)])
    func matchesDirect(n: Int, cin: Int, cout: Int, h: Int, w: Int, pad: Int) {
        let x = KernelTests.random([n, cin, h, w], seed: 31)
        let wt = KernelTests.random([cout, cin, 3, 3], seed: 32)
        let b = KernelTests.random([cout], seed: 33)
        let expected = KernelTests.naiveConv(x, wt, b, stride: 1, pad: pad, padEnd: 0)
        Self.onEachPath { path in
            for (algorithm, tolerance) in [(Kernels.ConvAlgorithm.winogradF23, 2e-6), (.winogradF43, 2e-5)] {
                let y = Kernels.conv2d(x, weight: wt, bias: b, stride: 1, padding: pad, algorithm: algorithm)
                #expect(y.shape == [n, cout, h + 2 * pad - 2, w + 2 * pad - 2])
                let err = Self.relativeError(y.scalars, expected)
                #expect(err < tolerance, "\(algorithm) on \(path): relative error \(err)")  // observed ≤ 6e-7 (F23), ≤ 9e-6 (F43)
            }
        }
    }

    @Test("blocked Winograd: output channels in blocks (large Cin·Cout) and tiles in chunks (large maps) stay exact")
    func blocks() {
        for (n, cin, cout, side) in [(1, 900, 900, 6), (1, 256, 8, 160)] {
            let x = KernelTests.random([n, cin, side, side], seed: 41)
            let wt = KernelTests.random([cout, cin, 3, 3], seed: 42) * 0.05
            let b = KernelTests.random([cout], seed: 43)
            let expected = KernelTests.naiveConv(x, wt, b, stride: 1, pad: 1, padEnd: 0)
            for algorithm in [Kernels.ConvAlgorithm.winogradF23, .winogradF43] {
                let y = Kernels.conv2d(x, weight: wt, bias: b, stride: 1, padding: 1, algorithm: algorithm)
                let err = Self.relativeError(y.scalars, expected)
                #expect(err < 2e-5, "\(algorithm) \(cin)→\(cout) at \(side)²: relative error \(err)")  // observed ≤ 1.1e-5 (F43, 600 channels; 900 blocks F(2,3) in 2 and F(4,3) in 3)
            }
        }
    }

    @Test("the automatic choice uses Winograd on large maps and im2col on small ones, and both agree with the direct path")
    func automaticChoice() {
        #expect(Kernels.convAlgorithm(channelsIn: 320, channelsOut: 320, outHeight: 64, outWidth: 64) == (Kernels.convOverride ?? .winogradF43))
        #expect(Kernels.convAlgorithm(channelsIn: 1280, channelsOut: 1280, outHeight: 4, outWidth: 4) == (Kernels.convOverride ?? .direct))
        #expect(Kernels.convAlgorithm(channelsIn: 4, channelsOut: 320, outHeight: 64, outWidth: 64) == (Kernels.convOverride ?? .direct))
        let x = KernelTests.random([2, 16, 32, 32], seed: 51), wt = KernelTests.random([16, 16, 3, 3], seed: 52)
        let auto = Kernels.conv2d(x, weight: wt, bias: nil, padding: 1)
        let direct = Kernels.conv2d(x, weight: wt, bias: nil, padding: 1, algorithm: .direct)
        #expect(Self.relativeError(auto.scalars, direct.scalars) < 2e-5)
    }

    @Test("every kernel path this CPU supports gives the portable path's results: attention, norms, GEGLU")
    func pathsAgree() {
        let q = KernelTests.random([2, 37, 3 * 40], seed: 61), k = KernelTests.random([2, 300, 3 * 40], seed: 62)
        let v = KernelTests.random([2, 300, 3 * 40], seed: 63)
        let x = KernelTests.random([2, 64, 9, 11], seed: 64) * 3
        let gw = KernelTests.random([64], seed: 65), gb = KernelTests.random([64], seed: 66)
        let rows = KernelTests.random([5, 2 * 100], seed: 67)
        func run() -> [[Float]] {
            [Kernels.attention(q: q, k: k, v: v, heads: 3).scalars,
             Kernels.attention(q: q, k: q, v: q, heads: 3, causal: true).scalars,
             Kernels.groupNorm(x, groups: 32, weight: gw, bias: gb, eps: 1e-5, silu: true).scalars,
             Kernels.layerNorm(rows, weight: KernelTests.random([200], seed: 68), bias: KernelTests.random([200], seed: 69), eps: 1e-5).scalars,
             Kernels.geglu(rows).scalars]
        }
        let before = KernelPath.active
        defer { KernelPath.select(before) }
        KernelPath.select(.portable)
        let reference = run()
        Self.onEachPath { path in
            for (i, (got, want)) in zip(run(), reference).enumerated() {
                let err = Self.relativeError(got, want)
                #expect(err < 1e-5, "kernel \(i) on \(path): relative error \(err)")  // observed ≤ 4e-7 (AVX2 vs portable)
            }
        }
    }

    @Test("a path the CPU cannot run is refused; SDFARM_KERNELS names the paths")
    func pathSelection() {
        #expect(KernelPath.supported.first == .portable)
        #expect(KernelPath.active <= KernelPath.bestSupported)
        for path in KernelPath.allCases where path > KernelPath.bestSupported {
            #expect(!KernelPath.select(path))
        }
        #expect(KernelPath.allCases.map(\.rawValue) == ["portable", "avx2", "avx512"])
    }
}

@Suite("Buffer pool")
struct BufferPoolTests {
    static func address(_ t: Tensor) -> UInt { t.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress!) } }

    @Test("a large freed buffer is reused for the same size, zeroed tensors from the pool are zero, small ones are not pooled")
    func reuse() {
        guard BufferPool.capacityBytes >= 16 << 20 else { return }
        let count = (3 << 20) + 12_345   // an unusual size (13 MiB), so tests running alongside do not take it
        // Other tests allocate at the same time and may evict the buffer: reuse must show in one of three tries.
        var reused = false
        for _ in 0..<3 where !reused {
            var first = Tensor(uninitializedShape: [count])
            first.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] = 7 } }
            let old = Self.address(first)
            first = Tensor(zeros: [1])
            let zeros = Tensor(zeros: [count])
            #expect(zeros.withUnsafeBufferPointer { $0.allSatisfy { $0 == 0 } }, "a zeroed tensor is zero, pooled or not")
            reused = Self.address(zeros) == old
        }
        #expect(reused, "the freed 13 MiB buffer was handed out again")
        let small = Tensor(zeros: [1000])
        #expect(small.count == 1000 && BufferPool.capacity(for: 1000) == 1000, "small buffers are plain malloc")
    }
}
