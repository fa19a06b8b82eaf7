internal import CKernels

/// The instruction-set path of the C kernels (Winograd transforms, fused attention, norms, GEGLU).
///
/// Chosen once per process: the best the CPU supports, unless `SDFARM_KERNELS=portable|avx2|avx512`
/// asks for a lower one (a request the CPU cannot run falls back to the best it can). Never an illegal
/// instruction: a path is only called when cpuid reports its features.
public enum KernelPath: String, Sendable, CaseIterable, Comparable {
    case portable, avx2, avx512

    /// The path in use now.
    public static var active: KernelPath { KernelPath(sdk_active_path()) }

    /// The best path this CPU can run.
    public static var bestSupported: KernelPath { KernelPath(sdk_best_supported_path()) }

    /// Every path this CPU can run, lowest first.
    public static var supported: [KernelPath] { allCases.filter { $0 <= bestSupported } }

    /// Makes `path` the active one (tests and benchmarks compare paths).
    /// - Returns: false when the CPU cannot run it (nothing changes).
    @discardableResult
    public static func select(_ path: KernelPath) -> Bool { sdk_set_path(path.c) == 0 }

    init(_ p: sdk_path) {
        switch p {
        case SDK_PATH_AVX2: self = .avx2
        case SDK_PATH_AVX512: self = .avx512
        default: self = .portable
        }
    }

    var c: sdk_path {
        switch self {
        case .portable: SDK_PATH_PORTABLE
        case .avx2: SDK_PATH_AVX2
        case .avx512: SDK_PATH_AVX512
        }
    }

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: KernelPath, b: KernelPath) -> Bool { a.rank < b.rank }
}
