import Testing
import Foundation
import Synchronization
import Tensor

@Suite("OpenBLAS through CBLAS")
struct BLASTests {
    @Test("sgemm matches a naive triple loop, with and without transposes")
    func sgemmMatchesNaiveProduct() {
        let m = 37, n = 29, k = 53
        let a = (0..<(m * k)).map { Float(($0 * 7919) % 97) / 97 - 0.5 }
        let b = (0..<(k * n)).map { Float(($0 * 104_729) % 89) / 89 - 0.5 }
        var expected = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s: Double = 0
            for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
            expected[i * n + j] = Float(s)
        } }
        var c = [Float](repeating: 0, count: m * n)
        BLAS.sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n)
        for i in c.indices { #expect(abs(c[i] - expected[i]) < 1e-4, "element \(i)") }

        // Same product from transposed storage: Aᵀ is k×m, Bᵀ is n×k.
        var at = [Float](repeating: 0, count: m * k), bt = [Float](repeating: 0, count: k * n)
        for i in 0..<m { for p in 0..<k { at[p * m + i] = a[i * k + p] } }
        for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
        var c2 = [Float](repeating: 0, count: m * n)
        BLAS.sgemm(transposeA: true, transposeB: true, m: m, n: n, k: k, a: at, lda: m, b: bt, ldb: k, c: &c2, ldc: n)
        for i in c2.indices { #expect(abs(c2[i] - expected[i]) < 1e-4, "transposed element \(i)") }
    }

    @Test("the kernels in use are not the generic fallback on a CPU with AVX2 or AVX-512")
    func kernelsSuitTheCPU() {
        let cpu = BLASRuntime.CPUFeatures.current()
        let status = BLASRuntime.status
        let active = BLASRuntime.activeCore.lowercased()
        if cpu.hasAVX512 {
            #expect(["skylakex", "cooperlake", "sapphirerapids"].contains(active), "\(status)")
        } else if cpu.hasAVX2FMA {
            #expect(cpu.acceptableCores.contains(active), "\(status)")
        }
        #expect(!["prescott", "core2", "nehalem", "katmai"].contains(active) || cpu.recommendedCore == nil, "\(status)")
    }

    @Test("a recent Xeon that OpenBLAS 0.3.21 misdetects as Prescott is switched to Cooperlake kernels")
    func misdetectedXeonIsSwitched() {
        let xeon = BLASRuntime.CPUFeatures(vendor: "GenuineIntel",
            flags: ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16", "amx_tile"])
        #expect(BLASRuntime.decide(detected: "Prescott", cpu: xeon, userSetting: nil).core == "COOPERLAKE")
        #expect(BLASRuntime.decide(detected: "SkylakeX", cpu: xeon, userSetting: nil).core == nil)
        #expect(BLASRuntime.decide(detected: "Prescott", cpu: xeon, userSetting: "HASWELL").core == nil)
        let zen = BLASRuntime.CPUFeatures(vendor: "AuthenticAMD", flags: ["avx2", "fma"])
        #expect(BLASRuntime.decide(detected: "Zen", cpu: zen, userSetting: nil).core == nil)
        #expect(BLASRuntime.decide(detected: "Prescott", cpu: zen, userSetting: nil).core == "ZEN")
        let old = BLASRuntime.CPUFeatures(vendor: "GenuineIntel", flags: ["sse2"])
        #expect(BLASRuntime.decide(detected: "Core2", cpu: old, userSetting: nil).core == nil)
    }
    @Test("idle spin is short for SD 1.5-size GEMMs, OpenBLAS's default for the demo model's; switching keeps GEMMs right")
    func idleSpinFollowsGEMMSize() {
        // SD 1.5 U-Net at 512²: batch 2, 64² latent, 320 channels, 3×3 taps. The demo model: 32 channels at 16².
        #expect(BLASRuntime.IdleSpin.forConvolution3x3(pixels: 2 * 64 * 64, channelsIn: 320, channelsOut: 320) == .short)
        #expect(BLASRuntime.IdleSpin.forConvolution3x3(pixels: 2 * 16 * 16, channelsIn: 32, channelsOut: 32) == .long)
        // SD 1.5 text encoder, batch 2 × 77 tokens × 768²: short.
        #expect(BLASRuntime.IdleSpin.forTypicalGEMM(2 * Double(2 * 77) * 768 * 768) == .short)

        let n = 256
        let a = (0..<(n * n)).map { Float(($0 * 7919) % 97) / 97 - 0.5 }
        let b = (0..<(n * n)).map { Float(($0 * 104_729) % 89) / 89 - 0.5 }
        var reference = [Float](repeating: 0, count: n * n)
        BLAS.sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &reference, ldc: n)
        for spin in [BLASRuntime.IdleSpin.short, .long, .short, .long] {
            BLASRuntime.prepare(idleSpin: spin)
            var c = [Float](repeating: 0, count: n * n)
            BLAS.sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n)
            #expect(c == reference, "after switching to \(spin): \(BLASRuntime.idleSpinDescription)")
        }
        if ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] == nil {
            #expect(BLASRuntime.idleSpinDescription.hasPrefix("long"))
        }
    }
    @Test("independent GEMMs, one per thread, give the products sgemm gives and leave the thread count as it was")
    func independentGEMMsMatch() {
        let threadsBefore = BLASRuntime.threads, parallelBefore = Parallel.threads
        let count = 6, m = 48, n = 200, k = 64
        let a = (0..<(count * m * k)).map { Float(($0 * 7919) % 97) / 97 - 0.5 }
        let b = (0..<(count * k * n)).map { Float(($0 * 104_729) % 89) / 89 - 0.5 }
        var expected = [Float](repeating: 0, count: count * m * n)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in expected.withUnsafeMutableBufferPointer { pc in
            for e in 0..<count {
                BLAS.sgemm(m: m, n: n, k: k, a: pa.baseAddress! + e * m * k, lda: k, b: pb.baseAddress! + e * k * n, ldb: n,
                           c: pc.baseAddress! + e * m * n, ldc: n)
            }
        } } }
        let c = UnsafeMutablePointer<Float>.allocate(capacity: count * m * n)
        defer { c.deallocate() }
        let sawThreads = Mutex(Set<Int>())
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            BLAS.independent(count) { e in
                sawThreads.withLock { _ = $0.insert(Parallel.threads) }
                BLAS.sgemm(m: m, n: n, k: k, a: pa.baseAddress! + e * m * k, lda: k, b: pb.baseAddress! + e * k * n, ldb: n,
                           c: c + e * m * n, ldc: n)
            }
        } }
        for i in 0..<(count * m * n) { #expect(abs(c[i] - expected[i]) <= 1e-5 * max(1, abs(expected[i])), "element \(i)") }
        #expect(sawThreads.withLock { $0 } == [parallelBefore], "Parallel.threads inside the section is the configured count")
        #expect(BLASRuntime.threads == threadsBefore && Parallel.threads == parallelBefore)
    }
}
