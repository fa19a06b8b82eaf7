internal import CBLAS
import Synchronization

/// Thin wrappers over OpenBLAS's CBLAS interface. Every call first makes sure fast kernels are
/// selected (see `BLASRuntime`).
public enum BLAS {
    /// C = alpha · op(A) · op(B) + beta · C, row-major. op(A) is m×k, op(B) is k×n, C is m×n.
    @inlinable
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        rawSgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// Runs `count` independent pieces of GEMM work (`body(i)` calls `sgemm`) spread over the kernel threads,
    /// each GEMM on the thread that calls it (OpenBLAS single-threaded meanwhile).
    ///
    /// Many mid-sized GEMMs (a Winograd layer's (m+2)² products per tile chunk) lose time to OpenBLAS's
    /// hand-off to its helper threads and back on every call, and each thread packs half of every operand;
    /// one GEMM per thread needs no hand-off and keeps each product's operands in that core's cache.
    public static func independent(_ count: Int, _ body: (Int) -> Void) {
        let threads = Parallel.threads
        guard threads > 1, count > 1 else { return Parallel.forEach(count, body) }
        singleThreaded.enter(restoring: threads)
        defer { singleThreaded.leave() }
        Parallel.forEach(count, threads: threads, body)
    }

    /// Callers inside `independent`: OpenBLAS runs single-threaded while there is one, and gets its thread
    /// count back when the last leaves.
    static let singleThreaded = SingleThreadedSection()

    @usableFromInline
    static func rawSgemm(
        _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        _ = BLASRuntime.status
        BLASRuntime.kernelLock.reading {
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                        blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                        beta, c, blasint(ldc))
        }
    }
}

/// A counted section during which OpenBLAS uses one thread (`BLAS.independent`).
final class SingleThreadedSection: Sendable {
    private let state = Mutex<(inside: Int, threads: Int)>((0, 1))

    func enter(restoring threads: Int) {
        state.withLock { s in
            if s.inside == 0 { s.threads = threads; BLASRuntime.setThreads(1) }
            s.inside += 1
        }
    }

    /// The thread count OpenBLAS gets back, while the section is entered.
    var savedThreads: Int? { state.withLock { $0.inside > 0 ? $0.threads : nil } }

    func leave() {
        state.withLock { s in
            s.inside -= 1
            if s.inside == 0 { BLASRuntime.setThreads(s.threads) }
        }
    }
}
