import Dispatch
import Synchronization

/// Runs the CPU kernels' independent pieces of work on several threads.
///
/// The number of threads is OpenBLAS's (`OPENBLAS_NUM_THREADS`, or the core count), so one setting
/// governs the GEMMs and everything between them: a worker told to use one thread uses one.
public enum Parallel {
    /// Threads the kernels use.
    public static var threads: Int { max(1, BLAS.singleThreaded.savedThreads ?? BLASRuntime.threads) }

    /// Calls `body(i)` for every i in 0..<count, spread over `threads` threads; items are taken in order
    /// from a shared counter, so uneven items balance. Returns when all are done.
    public static func forEach(_ count: Int, threads: Int = Parallel.threads, _ body: (Int) -> Void) {
        let workers = min(threads, count)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let work = Work(body: body)
            let next = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= count { break }
                    work.body(i)
                }
            }
        }
    }

    // reason: the closure runs only while forEach waits for it, and callers give each item disjoint memory to write.
    private struct Work: @unchecked Sendable { let body: (Int) -> Void }

    /// Splits 0..<count into about `threads × 4` contiguous ranges of at least `minimum` and runs them in parallel.
    public static func forRanges(_ count: Int, minimum: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let pieces = max(1, min(threads * 4, count / max(minimum, 1)))
        let size = (count + pieces - 1) / pieces
        forEach((count + size - 1) / size) { p in body((p * size)..<min(count, (p + 1) * size)) }
    }
}
