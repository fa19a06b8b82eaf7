// swift-tools-version:6.0
import PackageDescription

// sdfarm: C shims | basics | numeric core (Tensor) | images (Imaging) | render format | SD engine (Diffusion) | farm (Farm)
// | the seam (FarmDiffusion) | thin executables. Sources/README.md shows the path of one job through them.
let package = Package(
    name: "sdfarm",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sdfarm", targets: ["sdfarm"]),
        .executable(name: "sdfarm-worker", targets: ["sdfarm-worker"]),
        .library(name: "Diffusion", targets: ["Diffusion"]),
        .library(name: "Farm", targets: ["Farm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The Prometheus text format and its collector registry (counters, gauges, histograms); brings swift-atomics
        // and swift-metrics' CoreMetrics, nothing more.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The dashboard and HTTP API of `sdfarm serve` (FarmServer): an HTTP server on SwiftNIO.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // Already under Hummingbird; named because FarmServer uses their header names and channel address directly.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
    ],
    targets: [
        // C shims: system libraries found through pkg-config, installed by scripts/setup.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        // Basics every layer shares: the one atomic file writer (fsync'd, renamed, directory fsync'd).
        .target(name: "Basics"),
        // CPU kernels in C, one source compiled for the portable, AVX2+FMA and AVX-512 paths and chosen at run time.
        .target(name: "CKernels", exclude: ["kernels.inc"]),
        // SHA-256's compression function in C: the x86 SHA extensions where the CPU has them, portable C elsewhere.
        .target(name: "CSHA256"),
        // Numeric core: tensors and CPU kernels. Knows nothing of models, PostgreSQL or files.
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"]),
        // 8-bit RGB images, PNG through libpng, contact sheets.
        .target(name: "Imaging", dependencies: ["CLibPNG", "Basics"]),
        // What a render is, in words both sides share without tensors: sampler names, the A1111 `parameters`
        // text, the limits of every render parameter, SHA-256, cancellation.
        .target(name: "RenderFormat", dependencies: ["Basics", "CSHA256"]),
        // Stable Diffusion: weights, tokenizer, text encoder, UNet, VAE, samplers, RNG, pipeline.
        .target(name: "Diffusion", dependencies: [
            "Tensor", "Imaging", "RenderFormat", "Basics",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The farm: libpq connection, migrations, typed jobs, queue, grid expansion, worker loop. Knows nothing of tensors.
        .target(name: "Farm", dependencies: [
            "CLibPQ", "Imaging", "RenderFormat", "Basics",
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md"]),
        // The seam between farm and engine: job -> render request, submit-time model checks, the worker's renderer.
        .target(name: "FarmDiffusion", dependencies: [
            "Farm", "Diffusion", "RenderFormat", "Imaging",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Running as a service: Prometheus metrics and health endpoints (a small HTTP listener), the systemd
        // notification protocol and watchdog, the database password from a file or credential. Knows nothing of tensors.
        .target(name: "FarmService", dependencies: [
            "Farm",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Beside the seam: the dashboard and JSON API of `sdfarm serve`, webhooks. Knows nothing of tensors.
        .target(name: "FarmServer", dependencies: [
            "Farm", "FarmDiffusion", "Imaging", "RenderFormat", "Basics",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Thin executables.
        .executableTarget(name: "sdfarm", dependencies: [
            "Diffusion", "Farm", "FarmDiffusion", "FarmServer", "FarmService", "Imaging", "RenderFormat", "Tensor",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "sdfarm-worker", dependencies: [
            "Farm", "FarmDiffusion", "FarmService", "RenderFormat",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // What the tests share: one process runner, scratch directories, the repository's paths.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Basics", "TestSupport"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "Tensor", "Imaging", "RenderFormat", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "FarmTests", dependencies: ["Farm", "FarmService", "Imaging", "Diffusion", "RenderFormat", "Basics", "TestSupport"]),
        .testTarget(name: "FarmDiffusionTests", dependencies: ["FarmDiffusion", "Farm", "Diffusion", "RenderFormat", "Imaging", "TestSupport"]),
        .testTarget(name: "RenderFormatTests", dependencies: ["RenderFormat", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Imaging", "TestSupport"]),
        // The deployment files (container image, compose, Kubernetes, systemd) checked with the real tools.
        .testTarget(name: "DeployTests", dependencies: ["Farm", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "FarmServerTests", dependencies: ["FarmServer", "Farm", "Imaging", "TestSupport"]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ])
    target.swiftSettings = settings
}
