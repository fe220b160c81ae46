// swift-tools-version: 6.0
import PackageDescription

// The data's road, one target per stage (see ../shared/design.md):
// TensorCore ← Quantization ← ModelFile ← Checkpoints ← Inference ← Pipeline ← tramontane (CLI)
let targetCPU = Context.environment["TRAMONTANE_CPU"] ?? "haswell"
let kernelFlags: [SwiftSetting] = [
    // The block and float kernels are written with SIMD types; without a target CPU that has
    // FMA/F16C, SIMD fused multiply-add becomes a libm call per lane. See README "CPU features".
    // TRAMONTANE_CPU=native builds for the build machine instead (not portable).
    .unsafeFlags(["-target-cpu", targetCPU]),
    // Generic SIMD code without optimisation runs ~100× slower (each lane op is a call), which
    // would make debug-built tests crawl; the kernel targets are optimised in every build.
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]
    // Kernels that need an AVX2 instruction Swift's SIMD types do not express (the IQ4 table
    // lookup, vpshufb) use it when the target CPU has it (native is assumed to); else a portable form.
    + (["haswell", "native"].contains(targetCPU) ? [.define("TRAMONTANE_AVX2")] : [])

let package = Package(
    name: "Tramontane",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tramontane", targets: ["tramontane"]),
        .library(name: "TramontaneKit", targets: ["Pipeline", "Inference", "Tokenizers", "Checkpoints", "ModelFile", "Quantization", "TensorCore"]),
        .library(name: "CraftedFiles", targets: ["CraftedFiles"]),
        // `swift package tramontane …` in a package that depends on this one (README "Use it from your package").
        .plugin(name: "TramontanePlugin", targets: ["TramontanePlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", providers: [.apt(["libzstd-dev"])]),
        // Header-only: C constants Swift's Glibc module does not export (O_DIRECT).
        .systemLibrary(name: "CShims", path: "Sources/CShims"),
        // The SIGINT/SIGTERM/SIGHUP/SIGQUIT handler that removes temporary outputs: C, as a signal handler must be.
        .target(name: "CSignalCleanup", path: "Sources/CSignalCleanup"),
        .target(name: "TensorCore", dependencies: ["CShims", "CSignalCleanup"], swiftSettings: kernelFlags),
        .target(name: "Quantization", dependencies: ["TensorCore"], swiftSettings: kernelFlags),
        .target(name: "ModelFile", dependencies: ["TensorCore", "CZstd"], swiftSettings: kernelFlags),
        .executableTarget(name: "EmbedFormatsTool", path: "Sources/EmbedFormatsTool"),
        .plugin(name: "EmbedFormats", capability: .buildTool(), dependencies: ["EmbedFormatsTool"]),
        .target(
            name: "Checkpoints",
            dependencies: ["TensorCore", "Quantization", "ModelFile"],
            plugins: ["EmbedFormats"]
        ),
        .target(name: "Tokenizers", dependencies: ["TensorCore"]),
        .target(
            name: "Inference",
            // OpenBLAS is loaded at run time (Inference/BLAS.swift), not linked.
            dependencies: ["TensorCore", "Quantization", "Checkpoints"],
            swiftSettings: kernelFlags
        ),
        .target(
            name: "Pipeline",
            dependencies: ["TensorCore", "Quantization", "ModelFile", "Checkpoints", "Inference", "Tokenizers",
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: kernelFlags,
            plugins: ["EmbedFormats"]
        ),
        .executableTarget(
            name: "tramontane",
            dependencies: ["Pipeline", "Checkpoints", "ModelFile", "TensorCore",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .plugin(
            name: "TramontanePlugin",
            capability: .command(
                intent: .custom(verb: "tramontane",
                                description: "Runs the tramontane toolchain (quantize, convert, verify, …) with the arguments given"),
                // quantize/convert write their output (and its temporary file) into the package.
                permissions: [.writeToPackageDirectory(reason: "tramontane writes the converted or quantized model file into the package")]
            ),
            dependencies: ["tramontane"]
        ),
        // A test target depends on the target it tests and what that target's API takes; the
        // fixtures it reads are read by TestSupport (FixtureSafetensors, FixtureGGUF).
        .target(name: "TestSupport", dependencies: ["TensorCore", "CraftedFiles"], path: "Tests/TestSupport"),
        // Builders of crafted files (lying headers, hostile pickles, zips, .tmt, GGUF): for the
        // tests, through TestSupport, and for the fuzz package's seeds (Fuzz/), hence a product.
        .target(name: "CraftedFiles", dependencies: ["TensorCore"], path: "Tests/CraftedFiles"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "TestSupport"]),
        .testTarget(name: "ModelFileTests", dependencies: ["ModelFile", "TestSupport"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"]),
        // Inference's weights come from a Checkpoints NativeModel: the tests load real checkpoints.
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Checkpoints", "TestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Checkpoints", "ModelFile", "TestSupport"]),
    ],
    // Every target, the build tool, the test support and the tests included, builds in the
    // Swift 6 language mode (complete concurrency checking).
    swiftLanguageModes: [.v6]
)
