// swift-tools-version:6.0
import PackageDescription

// sdfarm: C shims | numeric core (Tensor) | images (Imaging) | SD model (Diffusion) | farm (Farm) | thin executables.
let package = Package(
    name: "sdfarm",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sdfarm", targets: ["sdfarm"]),
        .executable(name: "sdfarm-worker", targets: ["sdfarm-worker"]),
        .library(name: "Diffusion", targets: ["Diffusion"]),
        .library(name: "Farm", targets: ["Farm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C shims: system libraries found through pkg-config, installed by scripts/setup.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        // Numeric core: tensors and CPU kernels. Knows nothing of models, PostgreSQL or files.
        .target(name: "Tensor", dependencies: ["CBLAS"]),
        // 8-bit RGB images, PNG through libpng, contact sheets.
        .target(name: "Imaging", dependencies: ["CLibPNG"]),
        // Stable Diffusion: weights, tokenizer, text encoder, UNet, VAE, samplers, RNG, pipeline.
        .target(name: "Diffusion", dependencies: [
            "Tensor", "Imaging",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The farm: libpq connection, migrations, queue, grid expansion, worker loop. Knows nothing of tensors.
        .target(name: "Farm", dependencies: [
            "CLibPQ", "Imaging",
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md"]),

        // Thin executables.
        .executableTarget(name: "sdfarm", dependencies: [
            "Diffusion", "Farm", "Imaging",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "sdfarm-worker", dependencies: [
            "Diffusion", "Farm",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // What the tests share: one process runner, scratch directories, the repository's paths.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "Tensor", "Imaging", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "FarmTests", dependencies: ["Farm", "Imaging", "Diffusion", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Imaging", "TestSupport"]),
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
