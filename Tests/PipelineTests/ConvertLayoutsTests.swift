import Checkpoints
import Foundation
import ModelFile
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

/// The foundation's promise: all five layouts of the tiny Mistral give the same native names,
/// shapes and value hashes, and so do their `.tmt` outputs with every codec. The expected hashes
/// come from numpy (scripts/fixtures/native_hashes.py), not from Tramontane.
final class ConvertLayoutsTests: XCTestCase {
    struct Expected: Decodable { let shape: [Int]; let sha256: String }

    func expected() throws -> [String: Expected] {
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("tiny-mistral/expected-native-hashes.json"))
        return try JSONDecoder().decode([String: Expected].self, from: data)
    }

    func check(_ report: InspectReport, against e: [String: Expected], _ what: String) {
        XCTAssertEqual(Set(report.tensors.map(\.name)), Set(e.keys), what)
        for r in report.tensors {
            XCTAssertEqual(r.shape, e[r.name]?.shape, "\(what) \(r.name)")
            XCTAssertEqual(r.sha256, e[r.name]?.sha256, "\(what) \(r.name)")
        }
    }

    func testAllLayoutsAndTheirTMTOutputsAgree() throws {
        let e = try expected()
        let dir = TempDir()
        for layout in Fixtures.tinyLayouts {
            let src = Fixtures.tinyMistral(layout)
            check(try Inspector.inspect(src, hash: true), against: e, layout)
            for codec in TMTCodec.allCases {
                let out = dir.file("\(layout)-\(codec.rawValue).tmt")
                var o = Converter.Options()
                o.writer = TMTWriterOptions(codec: codec, chunkSize: TMTLayout.minChunkSize, threads: 2)
                let report = try Converter.convert(src, to: out, options: o)
                XCTAssertEqual(report.tensors, 21)
                let inspected = try Inspector.inspect(out, hash: true)
                XCTAssertEqual(inspected.format, "tmt")
                XCTAssertEqual(inspected.config?.slidingWindow, 16)
                check(inspected, against: e, "\(layout) → \(codec.rawValue)")
                XCTAssertNoThrow(try TMTFile(path: out).verify())
            }
        }
    }

    func testDTypeConversionsAreLosslessHere() throws {
        // Every fixture weight is exactly representable in bf16 and f16.
        let e = try expected()
        let dir = TempDir()
        for dtype in [Converter.TargetDType.f32, .f16, .bf16] {
            let out = dir.file("\(dtype.rawValue).tmt")
            var o = Converter.Options()
            o.dtype = dtype
            _ = try Converter.convert(Fixtures.tinyMistral("hf-sharded-bf16"), to: out, options: o)
            let r = try Inspector.inspect(out, hash: true)
            XCTAssertTrue(r.tensors.allSatisfy { $0.dtype == dtype.rawValue })
            check(r, against: e, dtype.rawValue)
        }
    }

    func testProvenanceAndTMTToTMT() throws {
        let dir = TempDir()
        let a = dir.file("a.tmt"), b = dir.file("b.tmt")
        var o = Converter.Options()
        o.command = ["tramontane", "convert", "x"]
        _ = try Converter.convert(Fixtures.tinyMistral("native-pth-bf16"), to: a, options: o)
        let p = try XCTUnwrap(TMTFile(path: a).metadata["provenance"])
        XCTAssertEqual(p["source_format"]?.stringValue, "pytorch")
        XCTAssertEqual(p["source_layout"]?.stringValue, "native")
        let sources = try XCTUnwrap(p["sources"]?.arrayValue)
        XCTAssertEqual(sources.count, 2, "weights and params.json")
        let pth = Fixtures.tinyMistral("native-pth-bf16") + "/consolidated.00.pth"
        XCTAssertEqual(sources.first { $0["path"]?.stringValue == pth }?["sha256"]?.stringValue, try TensorValues.sha256(file: pth))
        XCTAssertEqual(p["command"]?.arrayValue?.count, 3)
        _ = try Converter.convert(a, to: b, options: o)
        XCTAssertEqual(try TMTFile(path: b).metadata["provenance"]?["parent"]?["source_format"]?.stringValue, "pytorch")
        XCTAssertEqual(try Inspector.inspect(a, hash: true).tensors.map(\.sha256), try Inspector.inspect(b, hash: true).tensors.map(\.sha256))
    }

    /// BF16 → F16 must refuse values beyond F16's range, naming the tensor, and leave no file.
    func testBF16ToF16RefusesOverflow() throws {
        let dir = TempDir()
        let src = dir.file("model")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.tinyMistral("native-safetensors-bf16") + "/params.json", toPath: src + "/params.json")
        // Rewrite the native safetensors with one huge value in layers.1.feed_forward.w2.weight.
        let file = try MappedFile(path: Fixtures.tinyMistral("native-safetensors-bf16") + "/consolidated.safetensors")
        var bytes = Array(file.bytes)
        let t = try XCTUnwrap(Safetensors.read(file).tensors.first { $0.name == "layers.1.feed_forward.w2.weight" })
        let offset = try XCTUnwrap(Int(t.origin.components(separatedBy: " @ ").last ?? ""))
        bytes[offset] = 0x00; bytes[offset + 1] = 0x48   // bf16 0x4800 = 131072 > 65504
        FileManager.default.createFile(atPath: src + "/consolidated.safetensors", contents: Data(bytes))
        var o = Converter.Options()
        o.dtype = .f16
        XCTAssertThrowsError(try Converter.convert(src, to: dir.file("out.tmt"), options: o)) { e in
            XCTAssertEqual(e as? TensorError, .valueOutOfRange(tensor: "layers.1.feed_forward.w2.weight", value: 131072, target: .f16))
        }
        XCTAssertFalse(dir.contents().contains { $0.hasPrefix("out.tmt") }, "\(dir.contents())")
        o.dtype = .bf16
        XCTAssertNoThrow(try Converter.convert(src, to: dir.file("ok.tmt"), options: o), "bf16 keeps it")
    }
}
