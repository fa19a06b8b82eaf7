import Testing
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
}
