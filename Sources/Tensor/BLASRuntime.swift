internal import CBLAS
import Foundation

/// Makes sure OpenBLAS runs kernels that suit this CPU before the first GEMM.
///
/// Debian 12's OpenBLAS 0.3.21 is a DYNAMIC_ARCH build that picks its kernels at load time from the
/// CPU model. It does not know recent Xeons (Sapphire/Emerald Rapids) and silently falls back to its
/// generic "Prescott" kernels: 42 GFLOP/s instead of 280 for a 4096³ sgemm on two cores. The fix:
/// read the CPU's instruction-set flags, and when the detected core is one that cannot use them,
/// set `OPENBLAS_CORETYPE` and re-run OpenBLAS's own kernel selection (`gotoblas_dynamic_quit` +
/// `gotoblas_dynamic_init`), before any BLAS work has allocated buffers. A user who set
/// `OPENBLAS_CORETYPE` themselves is respected; a CPU whose core OpenBLAS already detects
/// correctly (e.g. Zen, Haswell, SkylakeX) is left alone.
public enum BLASRuntime {
    /// What the runtime found and did.
    public struct Status: Sendable, CustomStringConvertible {
        /// The core OpenBLAS reported at load time, e.g. `Prescott`.
        public let detectedCore: String
        /// The core whose kernels are in use now.
        public let activeCore: String
        /// The fastest core type this CPU's flags allow, if the runtime could tell.
        public let recommendedCore: String?
        /// True when the runtime replaced OpenBLAS's own choice.
        public let switched: Bool
        /// Why the runtime did or did not switch.
        public let reason: String

        public var description: String {
            "OpenBLAS core \(activeCore) (detected \(detectedCore)\(switched ? ", switched" : "")): \(reason)"
        }
    }

    /// The kernel selection, made once per process on first use; every GEMM in Tensor goes through here.
    public static let status: Status = selectKernels()

    /// The core whose kernels OpenBLAS uses at this moment.
    public static var activeCore: String {
        String(cString: openblas_get_corename())
    }

    /// Number of threads OpenBLAS uses.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Sets the number of OpenBLAS threads.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// Re-runs OpenBLAS's kernel selection for the named core type (benchmarks use it to compare).
    ///
    /// - Returns: the core name OpenBLAS reports afterwards (it ignores names it does not know).
    @discardableResult
    public static func forceCore(_ name: String) -> String {
        _ = status
        reselect(name)
        return activeCore
    }

    /// How long OpenBLAS's idle helper threads spin on `sched_yield` before they sleep.
    public enum IdleSpin: String, Sendable {
        /// OpenBLAS's default: 2²⁸ cycles (~0.1 s) after every BLAS call.
        case long
        /// 2⁴ cycles, OpenBLAS's minimum: helpers sleep right after a call.
        case short

        /// `OPENBLAS_THREAD_TIMEOUT`'s exponent for this setting.
        var exponent: Int { self == .long ? 28 : 4 }

        /// The idle spin for a model pass whose typical GEMM does `flops` operations.
        public static func forTypicalGEMM(_ flops: Double) -> IdleSpin {
            flops >= shortSpinGEMMFlops ? .short : .long
        }

        /// The idle spin for a pass whose typical GEMM is a 3×3 convolution over `pixels` output pixels.
        public static func forConvolution3x3(pixels: Int, channelsIn: Int, channelsOut: Int) -> IdleSpin {
            forTypicalGEMM(2 * Double(pixels) * Double(channelsIn) * 9 * Double(channelsOut))
        }
    }

    /// A typical GEMM of this many floating-point operations or more runs with `.short` idle spin.
    ///
    /// Measured on the 2-core machines (`tools/bench-deploy demo`, `sdfarm bench --components unet`): SD 1.5 at
    /// 512² (GEMMs of ~1–10 GFLOP) ran a U-Net step 14.5 s with short spin against 19.3 s with OpenBLAS's
    /// default, because the spinning helper competes with sdfarm's own kernels between GEMMs; the demo model
    /// (GEMMs of ~10 MFLOP, thousands per step) took 57.2 s for the demo grid with short spin against 21.7 s,
    /// because waking a sleeping helper costs more than such a GEMM.
    public static let shortSpinGEMMFlops = 1.0e8

    /// Sets OpenBLAS's idle spin for the next model pass (a no-op when it is already set, or when the user set
    /// `OPENBLAS_THREAD_TIMEOUT`, which always wins).
    ///
    /// OpenBLAS reads `OPENBLAS_THREAD_TIMEOUT` when it starts its thread pool, so this sets the variable,
    /// re-reads OpenBLAS's environment (`openblas_read_env`) and restarts the pool (`blas_thread_shutdown_`,
    /// `blas_thread_init`) under the kernel lock, after running GEMMs finish. A build without these hooks keeps
    /// its setting.
    public static func prepare(idleSpin wanted: IdleSpin) {
        _ = status
        spinLock.lock()
        defer { spinLock.unlock() }
        guard userIdleSpin == nil, wanted != currentIdleSpin else { return }
        typealias Hook = @convention(c) () -> Void
        typealias IntHook = @convention(c) () -> Int32
        let handle = UnsafeMutableRawPointer(bitPattern: 0)
        guard let readEnv = dlsym(handle, "openblas_read_env"), let shutdown = dlsym(handle, "blas_thread_shutdown_"),
              let start = dlsym(handle, "blas_thread_init") else { return }
        kernelLock.writing {
            setenv("OPENBLAS_THREAD_TIMEOUT", String(wanted.exponent), 1)
            unsafeBitCast(readEnv, to: Hook.self)()
            _ = unsafeBitCast(shutdown, to: IntHook.self)()
            _ = unsafeBitCast(start, to: IntHook.self)()
        }
        currentIdleSpin = wanted
    }

    /// The idle spin in effect: the user's `OPENBLAS_THREAD_TIMEOUT`, or what `prepare(idleSpin:)` last set.
    public static var idleSpinDescription: String {
        spinLock.lock()
        defer { spinLock.unlock() }
        if let user = userIdleSpin { return "OPENBLAS_THREAD_TIMEOUT=\(user) (set by the user)" }
        return "\(currentIdleSpin.rawValue) (OPENBLAS_THREAD_TIMEOUT=\(currentIdleSpin.exponent))"
    }

    private static let userIdleSpin: String? = {
        guard let v = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"], !v.isEmpty else { return nil }
        return v
    }()
    private static let spinLock = NSLock()
    // reason: read and written only under spinLock.
    nonisolated(unsafe) private static var currentIdleSpin = IdleSpin.long

    /// Instruction-set facts about this CPU, from /proc/cpuinfo.
    public struct CPUFeatures: Sendable {
        public let vendor: String
        public let flags: Set<String>

        public init(vendor: String, flags: Set<String>) {
            self.vendor = vendor
            self.flags = flags
        }

        public var hasAVX512: Bool { ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) }
        public var hasAVX512BF16: Bool { flags.contains("avx512_bf16") }
        public var hasAVX2FMA: Bool { flags.contains("avx2") && flags.contains("fma") }
        public var isAMD: Bool { vendor.contains("AMD") }

        /// Reads /proc/cpuinfo; empty features where it is not available.
        public static func current() -> CPUFeatures {
            guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
                return CPUFeatures(vendor: "", flags: [])
            }
            var vendor = ""
            var flags: Set<String> = []
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                if parts[0] == "vendor_id", vendor.isEmpty { vendor = parts[1] }
                if parts[0] == "flags", flags.isEmpty { flags = Set(parts[1].split(separator: " ").map(String.init)) }
                if !vendor.isEmpty, !flags.isEmpty { break }
            }
            return CPUFeatures(vendor: vendor, flags: flags)
        }

        /// The OpenBLAS 0.3.21 core type with the fastest sgemm for these flags, or nil if unknown.
        public var recommendedCore: String? {
            if hasAVX512 { return hasAVX512BF16 ? "COOPERLAKE" : "SKYLAKEX" }
            if hasAVX2FMA { return isAMD ? "ZEN" : "HASWELL" }
            return nil
        }

        /// Core names whose sgemm kernels already make full use of these flags.
        public var acceptableCores: Set<String> {
            if hasAVX512 { return ["skylakex", "cooperlake", "sapphirerapids"] }
            if hasAVX2FMA { return ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"] }
            return []
        }
    }

    /// The core to switch to, or nil to keep OpenBLAS's choice, with the reason.
    ///
    /// - Parameters:
    ///   - detected: the core name OpenBLAS chose at load time.
    ///   - cpu: this CPU's features.
    ///   - userSetting: the value of `OPENBLAS_CORETYPE`, if the user set one.
    public static func decide(detected: String, cpu: CPUFeatures, userSetting: String?) -> (core: String?, reason: String) {
        if let userSetting, !userSetting.isEmpty {
            return (nil, "OPENBLAS_CORETYPE=\(userSetting) set by the user")
        }
        guard let recommended = cpu.recommendedCore else {
            return (nil, "no AVX2/AVX-512 flags found; keeping OpenBLAS's choice")
        }
        if cpu.acceptableCores.contains(detected.lowercased()) {
            return (nil, "OpenBLAS's choice already suits this CPU")
        }
        let level = cpu.hasAVX512 ? "AVX-512" : "AVX2+FMA"
        return (recommended, "CPU has \(level) but OpenBLAS detected \(detected); using \(recommended)")
    }

    private static func selectKernels() -> Status {
        let detected = activeCore
        let cpu = CPUFeatures.current()
        let decision = decide(detected: detected, cpu: cpu,
                              userSetting: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"])
        guard let core = decision.core else {
            return Status(detectedCore: detected, activeCore: detected, recommendedCore: cpu.recommendedCore,
                          switched: false, reason: decision.reason)
        }
        guard reselect(core) else {
            return Status(detectedCore: detected, activeCore: activeCore, recommendedCore: core, switched: false,
                          reason: "this OpenBLAS cannot re-select kernels (not a DYNAMIC_ARCH build)")
        }
        let now = activeCore
        return Status(detectedCore: detected, activeCore: now, recommendedCore: core, switched: now != detected,
                      reason: decision.reason)
    }

    /// Re-runs OpenBLAS's kernel selection with `OPENBLAS_CORETYPE=core`.
    ///
    /// `gotoblas_dynamic_quit`/`gotoblas_dynamic_init` are exported by DYNAMIC_ARCH builds only, so
    /// they are looked up at run time; a build without them keeps its kernels.
    /// Between `gotoblas_dynamic_quit` and `gotoblas_dynamic_init` OpenBLAS has no kernel table at
    /// all, so a GEMM running on another thread would dereference a null pointer. Every GEMM holds
    /// this lock for reading; re-selection holds it for writing and waits for running GEMMs.
    @discardableResult
    private static func reselect(_ core: String) -> Bool {
        typealias Hook = @convention(c) () -> Void
        guard let quitSymbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gotoblas_dynamic_quit"),
              let initSymbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gotoblas_dynamic_init") else { return false }
        kernelLock.writing {
            setenv("OPENBLAS_CORETYPE", core, 1)
            unsafeBitCast(quitSymbol, to: Hook.self)()
            unsafeBitCast(initSymbol, to: Hook.self)()
        }
        return true
    }

    /// Guards OpenBLAS's kernel table: GEMMs read it concurrently, `reselect` replaces it.
    @usableFromInline
    static let kernelLock = ReadWriteLock()
}

/// A pthread read-write lock (many readers or one writer).
@usableFromInline
// reason: the pthread_rwlock_t is allocated once, never moved, and only used through pthread_rwlock_* calls.
final class ReadWriteLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    @usableFromInline
    func reading<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func writing<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
