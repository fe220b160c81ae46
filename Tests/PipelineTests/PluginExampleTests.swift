import Foundation
import TestSupport
import XCTest

/// Examples/QuantizeInPackage, an app's package that depends on this one, runs the command plugin
/// as its README says: `swift package --allow-writing-to-package-directory tramontane quantize …`.
/// SwiftPM builds the whole toolchain inside the example (its own scratch folder under this
/// package's .build, so a second run is incremental); the first build is slow (Benchmarks/README.md).
final class PluginExampleTests: XCTestCase {
    static let example = Fixtures.packageRoot.appendingPathComponent("Examples/QuantizeInPackage").path
    /// Git-ignored (under .build), kept between runs: only a cold one rebuilds the toolchain.
    static let scratch = Fixtures.packageRoot.appendingPathComponent(".build/examples/QuantizeInPackage").path

    /// The swift the tests run with: the toolchain's, else the one on PATH.
    static var swift: String {
        let opt = "/opt/swift/usr/bin/swift"
        return FileManager.default.isExecutableFile(atPath: opt) ? opt : "/usr/bin/env"
    }

    /// `swift package …` in the example; output to files, not pipes (the build's grandchildren
    /// would keep a pipe open), killed past `timeout`.
    func swiftPackage(_ args: [String], timeout: TimeInterval) throws -> (status: Int32, out: String, err: String) {
        let logs = TempDir()
        var env = ProcessInfo.processInfo.environment
        // The tool's digest cache: this test's own, not the user's.
        env["TRAMONTANE_CACHE_DIR"] = logs.file("cache")
        let p = try Subprocess(executable: Self.swift,
                               arguments: (Self.swift == "/usr/bin/env" ? ["swift"] : [])
                                   + ["package", "--scratch-path", Self.scratch] + args,
                               environment: env, directory: Self.example,
                               stdin: nil, stdout: logs.file("out"), stderr: logs.file("err"))
        // A hang fails the test instead of stalling the runner.
        guard let end = p.wait(timeout: timeout) else {
            XCTFail("swift package \(args.joined(separator: " ")) did not end in \(Int(timeout)) s")
            return (-1, readText(logs.file("out")), readText(logs.file("err")))
        }
        return (end.status, readText(logs.file("out")), readText(logs.file("err")))
    }

    func testQuantizeThroughThePlugin() throws {
        // Inside the example package: the only place the plugin's permission lets it write.
        let out = (Self.example as NSString).appendingPathComponent("tiny-q8_0.tmt")
        try? FileManager.default.removeItem(atPath: out)
        defer { try? FileManager.default.removeItem(atPath: out) }

        let run = try swiftPackage(["--allow-writing-to-package-directory", "tramontane", "quantize",
                                    Fixtures.tinyMistral("hf-safetensors-f32"), "-o", out, "--type", "q8_0"],
                                   timeout: 1800)
        XCTAssertEqual(run.status, 0, run.out + run.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out), run.out + run.err)

        // The file is a valid .tmt by the binary this test build made, and holds Q8_0 tensors.
        let cache = TempDir()
        let verify = try CLIProcess.run(["verify", out, "--json"], cacheDir: cache.path)
        XCTAssertEqual(verify.status, 0, verify.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(report?["ok"] as? Bool, true, verify.stdout)
        let inspect = try CLIProcess.run(["inspect", out, "--json"], cacheDir: cache.path)
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let tensors = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8))
            as? [String: Any])?["tensors"] as? [[String: Any]], inspect.stdout)
        XCTAssertEqual(tensors.count, 21)
        XCTAssertTrue(tensors.contains { ($0["dtype"] as? String)?.lowercased() == "q8_0" }, inspect.stdout)
    }

    /// A failing tramontane fails `swift package` too, with the tool's own message, so a script
    /// that calls the plugin sees the failure.
    func testFailurePassesThrough() throws {
        let run = try swiftPackage(["--allow-writing-to-package-directory", "tramontane", "quantize",
                                    "/nonexistent/model", "-o", "x.tmt", "--type", "q8_0"],
                                   timeout: 1800)
        XCTAssertNotEqual(run.status, 0, run.out + run.err)
        // SwiftPM forwards the plugin's output, the tool's stderr included, on its stdout.
        XCTAssertTrue((run.out + run.err).contains("/nonexistent/model: no such file"), run.out + run.err)
    }
}
