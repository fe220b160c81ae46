import Foundation
import TestSupport
import XCTest

/// The built `tramontane` binary as a subprocess, as a user runs it: output to files (no pipe
/// can fill up), a bounded wait, and the way it ended (exit status or signal).
struct CLIProcess {
    /// The binary the test build just built, beside the test bundle (`swift build --build-tests`
    /// builds both into one folder), never one guessed elsewhere that may be stale.
    static var binary: String {
        get throws {
            let p = productsDirectory.appendingPathComponent("tramontane").path
            guard FileManager.default.isExecutableFile(atPath: p) else { throw NotBuilt(path: p) }
            return p
        }
    }

    /// The build's products folder: on Linux the test executable's own (it is run directly), on
    /// macOS the one holding the `.xctest` bundle (run by Xcode's `xctest`).
    static var productsDirectory: URL {
        #if os(macOS)
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        #endif
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    struct NotBuilt: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) is missing: build it with the tests (swift build --build-tests, as scripts/test.sh does)" }
    }

    struct Ended {
        var status: Int32
        /// The signal that ended the process, if one did.
        var signal: Int32?
        var stdout: String
        var stderr: String
    }

    struct TimedOut: Error, CustomStringConvertible {
        var args: [String]
        var description: String { "tramontane \(args.joined(separator: " ")) did not end in time (killed): it hung" }
    }

    let process: Subprocess
    let args: [String]
    private let logs = TempDir()

    /// Starts `tramontane args…` with its digest cache in `cacheDir`, reading `stdin` (or
    /// nothing) as its standard input, with `environment` added to the test's own.
    init(_ args: [String], cacheDir: String, stdin: String? = nil, environment: [String: String] = [:]) throws {
        self.args = args
        var env = ProcessInfo.processInfo.environment
        env["TRAMONTANE_CACHE_DIR"] = cacheDir
        env.merge(environment) { $1 }
        var input: String?
        if let stdin {
            input = logs.file("in")
            FileManager.default.createFile(atPath: logs.file("in"), contents: Data(stdin.utf8))
        }
        process = try Subprocess(executable: try Self.binary, arguments: args, environment: env,
                                 stdin: input, stdout: logs.file("out"), stderr: logs.file("err"))
    }

    var pid: pid_t { process.pid }

    static var timeoutScale: Double {
        ProcessInfo.processInfo.environment["TRAMONTANE_TEST_TIMEOUT_SCALE"].flatMap(Double.init).map { max($0, 1) } ?? 1
    }

    /// Waits for the process to end, at most `timeout` seconds (times
    /// `TRAMONTANE_TEST_TIMEOUT_SCALE`, which scripts/sanitize.sh raises for its slow builds);
    /// past that it is killed and `TimedOut` thrown, so a hang fails the test instead of
    /// stalling the runner.
    func wait(timeout: TimeInterval = 120) throws -> Ended {
        guard let end = process.wait(timeout: timeout * Self.timeoutScale) else { throw TimedOut(args: args) }
        return Ended(status: end.status, signal: end.signal,
                     stdout: readText(logs.file("out")),
                     stderr: readText(logs.file("err")))
    }

    /// Runs `tramontane args…` to its end.
    static func run(_ args: [String], cacheDir: String, stdin: String? = nil, timeout: TimeInterval = 120) throws -> Ended {
        try CLIProcess(args, cacheDir: cacheDir, stdin: stdin).wait(timeout: timeout)
    }
}
