internal import CBLAS
import Foundation

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
        Parallel.forEach(count, threads: threads) { i in SingleThreadedSection.$insideBody.withValue(true) { body(i) } }
    }

    /// Callers inside `independent`: OpenBLAS runs single-threaded while there is one, and gets its thread
    /// count back when the last leaves; GEMMs from outside wait meanwhile (see `SingleThreadedSection`).
    static let singleThreaded = SingleThreadedSection()

    @usableFromInline
    static func rawSgemm(
        _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        _ = BLASRuntime.status
        let call = {
            BLASRuntime.kernelLock.reading {
                cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                            beta, c, blasint(ldc))
            }
        }
        if SingleThreadedSection.insideBody { call() } else { singleThreaded.outside(call) }
    }
}

/// A counted section during which OpenBLAS uses one thread (`BLAS.independent`).
///
/// OpenBLAS's thread count is global, and its results can depend on it; so a GEMM from a thread outside the
/// section (another render in the same process, as in the tests) waits until the section is left, and a
/// section waits for such GEMMs to finish: every GEMM runs with the thread count its caller expects, and
/// two renders in one process give the same bits. A worker renders one job at a time and never waits here.
final class SingleThreadedSection: @unchecked Sendable {
    // reason: every field is read and written under `condition`'s lock.
    private let condition = NSCondition()
    private var inside = 0, threads = 1, outsideCalls = 0

    /// True on a thread while it runs a body of `BLAS.independent` (its GEMMs belong to the section).
    @TaskLocal static var insideBody = false

    func enter(restoring threads: Int) {
        condition.lock()
        defer { condition.unlock() }
        while outsideCalls > 0 { condition.wait() }
        if inside == 0 { self.threads = threads; BLASRuntime.setThreads(1) }
        inside += 1
    }

    /// The thread count OpenBLAS gets back, while the section is entered.
    var savedThreads: Int? {
        condition.lock()
        defer { condition.unlock() }
        return inside > 0 ? threads : nil
    }

    func leave() {
        condition.lock()
        defer { condition.unlock() }
        inside -= 1
        if inside == 0 { BLASRuntime.setThreads(threads); condition.broadcast() }
    }

    /// Runs a GEMM from outside the section: once no section is entered, and keeping one from starting meanwhile.
    func outside<T>(_ body: () -> T) -> T {
        condition.lock()
        while inside > 0 { condition.wait() }
        outsideCalls += 1
        condition.unlock()
        defer {
            condition.lock()
            outsideCalls -= 1
            if outsideCalls == 0 { condition.broadcast() }
            condition.unlock()
        }
        return body()
    }
}
