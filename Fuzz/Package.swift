// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harnesses for Tramontane's parsers. A separate package so that the main package's
// `swift build --build-tests` (CI, scripts/test.sh) never builds them; run with scripts/fuzz.sh.
// One executable holds every harness; TRAMONTANE_FUZZ=<name> picks which parser runs (one
// sanitized build of the main package instead of one per harness).
let package = Package(
    name: "TramontaneFuzz",
    platforms: [.macOS(.v13)],
    // Named: a path dependency's identity is otherwise its folder name (main, a worktree's name).
    dependencies: [.package(name: "Tramontane", path: "..")],
    targets: [
        .executableTarget(
            name: "tramontane-fuzz",
            dependencies: [.product(name: "TramontaneKit", package: "Tramontane"), .product(name: "CraftedFiles", package: "Tramontane")],
            path: "Sources/TramontaneFuzz",
            // libFuzzer supplies main(); the harness is LLVMFuzzerTestOneInput.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])],
            // Links libFuzzer's main and runtime. The instrumentation of every module (this one and
            // the main package's) comes from scripts/fuzz.sh's -Xswiftc flags, not from
            // `--sanitize=fuzzer`: that flag makes SwiftPM compile every executable with
            // -parse-as-library, which breaks the main package's top-level-code build tool.
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])]
        ),
    ],
    swiftLanguageModes: [.v5]
)
