import Foundation

/// Measures OpenBLAS sgemm throughput, so the kernel fix can be checked with the project's own code.
public enum BLASBenchmark {
    /// One measurement.
    public struct Result: Sendable {
        public let core: String
        public let size: Int
        public let seconds: Double
        public var gflops: Double { 2 * pow(Double(size), 3) / seconds / 1e9 }
    }

    /// Times `repeats` square n×n×n sgemms (after one warm-up) and returns the best.
    public static func sgemm(size n: Int, repeats: Int = 3) -> Result {
        let a = Tensor(shape: [n, n]) { b in for i in b.indices { b[i] = Float(i % 7) * 0.01 } }
        let bm = Tensor(shape: [n, n]) { b in for i in b.indices { b[i] = Float(i % 5) * 0.01 } }
        var c = Tensor(zeros: [n, n])
        var best = Double.infinity
        for r in 0...repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { pa in
                bm.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        BLAS.sgemm(m: n, n: n, k: n, a: pa.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,
                                   c: pc.baseAddress!, ldc: n)
                    }
                }
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if r > 0 { best = min(best, elapsed) }
        }
        return Result(core: BLASRuntime.activeCore, size: n, seconds: best)
    }
}
