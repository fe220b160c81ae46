// swift-tools-version: 6.0
import PackageDescription

// An app's package that uses Tramontane's command plugin:
//   swift package --allow-writing-to-package-directory tramontane quantize MODEL -o model.tmt --type q8_0
// Here the dependency is the repository itself by path; an app would use the repository's URL.
let package = Package(
    name: "QuantizeInPackage",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Tramontane", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "QuantizeInPackage"),
    ]
)
