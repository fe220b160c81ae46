import Checkpoints
import Foundation
import ModelFile
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

/// `export --to safetensors`: the way back to Hugging Face and Mistral's native layout. The
/// reference is the original checkpoint written by transformers (Tests/Fixtures/tiny-*), not
/// Tramontane: HF BF16 → `.tmt` → HF BF16 must give its tensors' bytes back.
final class SafetensorsExportTests: XCTestCase {
    func convert(_ source: String, _ dir: TempDir, _ name: String) throws -> String {
        let out = dir.file(name)
        var o = Converter.Options()
        o.hashSources = false
        _ = try Converter.convert(source, to: out, options: o)
        return out
    }

    func export(_ source: String, to out: String, layout: SafetensorsExport.Layout = .hf, dtype: SafetensorsExport.ElementType = .bf16,
                shardSize: Int = 5_000_000_000, replacing: Bool = false) throws -> SafetensorsExport.Report {
        var o = SafetensorsExport.Options()
        o.layout = layout
        o.dtype = dtype
        o.shardSize = shardSize
        o.replacing = replacing
        return try SafetensorsExport.export(source, to: out, options: o)
    }

    /// Every tensor of `a` is in `b` under the same name, dtype and shape, with the same bytes.
    func assertSameTensors(_ a: Checkpoint, _ b: Checkpoint, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(Set(a.tensors.map(\.name)), Set(b.tensors.map(\.name)), what, file: file, line: line)
        for t in a.tensors {
            let u = try XCTUnwrap(b.tensors.first { $0.name == t.name }, "\(what): \(t.name)", file: file, line: line)
            XCTAssertEqual(t.dtype, u.dtype, "\(what): \(t.name)", file: file, line: line)
            XCTAssertEqual(t.shape, u.shape, "\(what): \(t.name)", file: file, line: line)
            XCTAssertEqual(try t.load().array, try u.load().array, "\(what): \(t.name) bytes", file: file, line: line)
        }
    }

    func testHFBF16RoundTripGivesTheOriginalBytes() throws {
        let dir = TempDir()
        for (name, source) in [("tiny-mistral", Fixtures.tinyMistral("hf-sharded-bf16")),
                               ("tiny-mixtral", Fixtures.root.appendingPathComponent("tiny-mixtral/hf-bf16").path)] {
            let tmt = try convert(source, dir, "\(name).tmt")
            let out = dir.file("\(name)-hf")
            let report = try export(tmt, to: out)
            XCTAssertEqual(report.copied, report.tensors, "every bf16 tensor is copied, none re-encoded")
            XCTAssertTrue(report.dequantized.isEmpty)
            XCTAssertEqual(report.files, ["model.safetensors", "config.json", "generation_config.json"])
            let original = try Checkpoint.open(source), exported = try Checkpoint.open(out)
            XCTAssertEqual(exported.format, .safetensors)
            try assertSameTensors(original, exported, name)
            // The configuration reads back as the original's.
            XCTAssertEqual(exported.config, original.config, name)
            // And `inspect --hash` (values after remapping to native) agrees with the original's.
            XCTAssertEqual(try Inspector.inspect(out, hash: true).tensors.map(\.sha256), try Inspector.inspect(source, hash: true).tensors.map(\.sha256), name)
        }
    }

    func testShardedExportHasAnIndexAndTheSameBytes() throws {
        let dir = TempDir()
        let source = Fixtures.tinyMistral("hf-sharded-bf16")
        let tmt = try convert(source, dir, "m.tmt")
        let out = dir.file("sharded")
        // The embeddings are 1024 × 64 bf16 = 128 KiB: 100 kB shards put a few tensors in each.
        let report = try export(tmt, to: out, shardSize: 100_000)
        let shards = report.files.filter { $0.hasSuffix(".safetensors") }
        XCTAssertGreaterThan(shards.count, 2)
        XCTAssertEqual(shards.first, String(format: "model-00001-of-%05d.safetensors", shards.count))
        XCTAssertTrue(report.files.contains("model.safetensors.index.json"))
        let exported = try Checkpoint.open(out)
        XCTAssertEqual(exported.format, .shardedSafetensors)
        try assertSameTensors(try Checkpoint.open(source), exported, "sharded")
        let index = try JSONParser.parse(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors.index.json")), as: UTF8.self))
        XCTAssertEqual(index["metadata"]?["total_size"]?.intValue, report.bytes)
    }

    func testNativeLayoutReimportsToTheSameModel() throws {
        let dir = TempDir()
        let source = Fixtures.tinyMistral("native-safetensors-bf16")
        let tmt = try convert(Fixtures.tinyMistral("hf-sharded-bf16"), dir, "m.tmt")
        let out = dir.file("native")
        let report = try export(tmt, to: out, layout: .native)
        XCTAssertEqual(report.files, ["consolidated.safetensors", "params.json"])
        // Mistral's own consolidated file, as the fixture holds it, byte for byte.
        try assertSameTensors(try Checkpoint.open(source), try Checkpoint.open(out), "native")
        // Re-imported: the same native tensors and configuration as the .tmt.
        let again = try convert(out, dir, "again.tmt")
        let a = try Checkpoint.open(tmt), b = try Checkpoint.open(again)
        try assertSameTensors(a, b, "re-imported")
        var expected = try XCTUnwrap(a.config)
        // params.json carries no special token ids.
        expected.bosTokenID = nil
        expected.eosTokenID = nil
        XCTAssertEqual(b.config, expected)
    }

    func testQuantizedTensorsAreDequantizedExactly() throws {
        // A Q4_0 file exported as f32: each value is the block's d·(q − 8), which `inspect --hash`
        // (values as f32) of the .tmt computes too; q/k rows go back to HF order on the way.
        let dir = TempDir()
        let q = dir.file("q4_0.tmt")
        var o = Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 2))
        o.threads = 2
        o.hashSources = false
        _ = try Quantizer.quantize(Fixtures.tinyMistral("native-safetensors-bf16"), to: q, options: o)
        let out = dir.file("f32")
        let report = try export(q, to: out, dtype: .f32)
        XCTAssertFalse(report.dequantized.isEmpty)
        let exported = try Checkpoint.open(out)
        XCTAssertTrue(exported.tensors.allSatisfy { $0.dtype == .f32 })
        XCTAssertEqual(try Inspector.inspect(out, hash: true).tensors.map(\.sha256), try Inspector.inspect(q, hash: true).tensors.map(\.sha256))
    }

    func testAnExistingFolderIsReplacedOnlyWithForceAndNeverOneHoldingTheInput() throws {
        let dir = TempDir()
        let tmt = try convert(Fixtures.tinyMistral("hf-sharded-bf16"), dir, "m.tmt")
        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: out + "/old.txt", contents: Data("old".utf8))
        XCTAssertThrowsError(try export(tmt, to: out)) { XCTAssertEqual($0 as? OutputError, .folderExists(path: out)) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/old.txt"), "refused: untouched")
        _ = try export(tmt, to: out, replacing: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/old.txt"), "replaced as a whole")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/model.safetensors"))
        // The folder holding the source is never replaced, even with --force.
        XCTAssertThrowsError(try export(tmt, to: dir.path, replacing: true)) {
            XCTAssertEqual($0 as? OutputError, .folderHoldsInput(path: dir.path, input: tmt))
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmt))
        // A file is not replaced by a folder.
        FileManager.default.createFile(atPath: tmt + "-file", contents: Data())
        XCTAssertThrowsError(try export(tmt, to: tmt + "-file", replacing: true)) {
            XCTAssertEqual($0 as? OutputError, .notFolder(path: tmt + "-file", kind: .regular))
        }
        // A temporary folder of a process that no longer runs is removed by the next export.
        let stale = out + ".tmp-999999999"
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: false)
        _ = try export(tmt, to: out, replacing: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        // No temporary folder is left behind.
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.contains(".tmp-") })
    }

    func testShardSizeSpellings() {
        XCTAssertEqual(SafetensorsExport.parseSize("5GB"), 5_000_000_000)
        XCTAssertEqual(SafetensorsExport.parseSize("500MB"), 500_000_000)
        XCTAssertEqual(SafetensorsExport.parseSize("2GiB"), 2 << 30)
        XCTAssertEqual(SafetensorsExport.parseSize("1048576"), 1_048_576)
        XCTAssertNil(SafetensorsExport.parseSize("0"))
        XCTAssertNil(SafetensorsExport.parseSize("big"))
    }
}
