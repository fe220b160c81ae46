import Checkpoints
import Foundation
import ModelFile
import Quantization
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

/// `export -o OUT.gguf`, read back by Tramontane's own GGUF reader: the same tensor bytes and
/// config, GGUF → `.tmt` → GGUF giving the file's tensors and tokenizer keys back, tail-block
/// tensors re-encoded (or refused with `exact`), and the output written atomically.
final class GGUFExportTests: XCTestCase {
    func convert(_ source: String, _ out: String) throws {
        var o = Converter.Options()
        o.hashSources = false
        _ = try Converter.convert(source, to: out, options: o)
    }

    func export(_ source: String, _ out: String, exact: Bool = false, replacing: Bool = false) throws -> GGUFExport.Report {
        var o = GGUFExport.Options()
        o.exact = exact
        o.replacing = replacing
        o.threads = 2
        return try GGUFExport.export(source, to: out, options: o)
    }

    /// Name → (dtype, shape, bytes) of every tensor of a GGUF file, under its GGUF name.
    func tensors(_ path: String) throws -> [String: (DType, [Int], [UInt8])] {
        let g = try GGUFFile(MappedFile(path: path))
        var out: [String: (DType, [Int], [UInt8])] = [:]
        for t in g.tensors { out[t.name] = (t.dtype, t.shape, try t.load().array) }
        return out
    }

    func assertSameTensors(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (x, y) = (try tensors(a), try tensors(b))
        XCTAssertEqual(Set(x.keys), Set(y.keys), file: file, line: line)
        for (name, (dtype, shape, bytes)) in x {
            guard let other = y[name] else { continue }
            XCTAssertEqual(dtype, other.0, name, file: file, line: line)
            XCTAssertEqual(shape, other.1, name, file: file, line: line)
            XCTAssertTrue(bytes == other.2, "\(name): tensor bytes differ", file: file, line: line)
        }
    }

    /// SmolLM2's GGUF (Q4_1, Q8_0 embeddings, F32 norms) exported directly and through a
    /// `.tmt`: every tensor the same bytes under the same name, every tokenizer key the same
    /// value, the same config.
    func testSmolLM2RoundTripsThroughTMT() throws {
        let source = try Fixtures.smolLM2()
        let dir = TempDir()
        let tmt = dir.file("smol.tmt"), direct = dir.file("direct.gguf"), viaTMT = dir.file("via-tmt.gguf")
        try convert(source, tmt)
        let report = try export(tmt, viaTMT)
        XCTAssertEqual(report.tensors, 272)
        XCTAssertEqual(report.copied, 272)
        XCTAssertTrue(report.reencoded.isEmpty)
        XCTAssertEqual(report.fileType, 3)   // MOSTLY_Q4_1, as the source says
        _ = try export(source, direct)
        try assertSameTensors(source, viaTMT)
        try assertSameTensors(source, direct)

        let (original, exported) = (try GGUFFile(MappedFile(path: source)), try GGUFFile(MappedFile(path: viaTMT)))
        let tokenizerKeys = original.keys.filter { $0.hasPrefix("tokenizer.") }
        XCTAssertFalse(tokenizerKeys.isEmpty)
        for k in tokenizerKeys { XCTAssertEqual(original.value(k), exported.value(k), k) }
        XCTAssertEqual(try ModelConfig.fromGGUF(original), try ModelConfig.fromGGUF(exported))
        for k in ["general.architecture", "general.file_type", "llama.block_count", "llama.rope.freq_base",
                  "llama.attention.layer_norm_rms_epsilon", "llama.rope.dimension_count", "llama.vocab_size"] {
            XCTAssertEqual(original.value(k), exported.value(k), k)
        }
        XCTAssertEqual(exported.alignment, 32)
        XCTAssertEqual(exported.value("general.quantization_version"), .int(2))
        // The provenance names the .tmt and carries the .tmt's own.
        let provenance = try JSONParser.parse(try XCTUnwrap(exported.value("general.tramontane.provenance")?.stringValue))
        XCTAssertEqual(provenance["source_format"]?.stringValue, "tmt")
        XCTAssertEqual(provenance["parent"]?["source_format"]?.stringValue, "gguf")
        // The direct export keeps the source's descriptive keys.
        let d = try GGUFFile(MappedFile(path: direct))
        XCTAssertEqual(d.value("general.license"), original.value("general.license"))
        XCTAssertEqual(d.value("llama.context_length"), original.value("llama.context_length"))
        // And the GGUF reads back as the same native model as the .tmt.
        let a = try Checkpoint.open(tmt).native(), b = try Checkpoint.open(viaTMT).native()
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
    }

    /// A GGUF built here (GGUFBuilder: F32 tensors, hand-set keys, no tokenizer) → `.tmt` →
    /// GGUF: the same tensors.
    func testBuiltGGUFRoundTrips() throws {
        var g = GGUFBuilder()
        let (dim, ffn, vocab) = (64, 96, 40)
        g.metadata = [("general.architecture", .string("llama")), ("llama.embedding_length", .u32(UInt32(dim))),
                      ("llama.block_count", .u32(1)), ("llama.feed_forward_length", .u32(UInt32(ffn))),
                      ("llama.attention.head_count", .u32(4)), ("llama.attention.head_count_kv", .u32(2)),
                      ("llama.vocab_size", .u32(UInt32(vocab))), ("llama.rope.freq_base", .f32(10000)),
                      ("llama.attention.layer_norm_rms_epsilon", .f32(1e-5))]
        let d = UInt64(dim), f = UInt64(ffn)
        g.tensors = [("token_embd.weight", [d, UInt64(vocab)], 0), ("blk.0.attn_norm.weight", [d], 0),
                     ("blk.0.attn_q.weight", [d, d], 0), ("blk.0.attn_k.weight", [d, d / 2], 0),
                     ("blk.0.attn_v.weight", [d, d / 2], 0), ("blk.0.attn_output.weight", [d, d], 0),
                     ("blk.0.ffn_norm.weight", [d], 0), ("blk.0.ffn_gate.weight", [d, f], 0),
                     ("blk.0.ffn_down.weight", [f, d], 0), ("blk.0.ffn_up.weight", [d, f], 0),
                     ("output_norm.weight", [d], 0), ("output.weight", [d, UInt64(vocab)], 0)]
        let dir = TempDir()
        let source = dir.write("built.gguf", g.build())
        try convert(source, dir.file("built.tmt"))
        let r = try export(dir.file("built.tmt"), dir.file("back.gguf"))
        XCTAssertEqual(r.copied, 12)
        try assertSameTensors(source, dir.file("back.gguf"))
        let back = try GGUFFile(MappedFile(path: dir.file("back.gguf")))
        XCTAssertEqual(back.value("tokenizer.ggml.model"), .string("none"))
        XCTAssertEqual(try ModelConfig.fromGGUF(GGUFFile(MappedFile(path: source))), try ModelConfig.fromGGUF(back))
    }

    /// A head size that is not dim / heads (as in Mistral Nemo: 5120 wide, 32 heads of 128)
    /// needs `attention.key_length`/`value_length`; the export writes them and reads back the same.
    func testHeadDimOtherThanDimOverHeads() throws {
        var g = GGUFBuilder()
        let (dim, heads, headDim, kv, ffn, vocab) = (64, 4, 32, 2, 96, 40)
        g.metadata = [("general.architecture", .string("llama")), ("llama.embedding_length", .u32(UInt32(dim))),
                      ("llama.block_count", .u32(1)), ("llama.feed_forward_length", .u32(UInt32(ffn))),
                      ("llama.attention.head_count", .u32(UInt32(heads))), ("llama.attention.head_count_kv", .u32(UInt32(kv))),
                      ("llama.attention.key_length", .u32(UInt32(headDim))), ("llama.attention.value_length", .u32(UInt32(headDim))),
                      ("llama.vocab_size", .u32(UInt32(vocab))), ("llama.attention.layer_norm_rms_epsilon", .f32(1e-5))]
        let d = UInt64(dim), q = UInt64(heads * headDim), k = UInt64(kv * headDim), f = UInt64(ffn)
        g.tensors = [("token_embd.weight", [d, UInt64(vocab)], 0), ("blk.0.attn_norm.weight", [d], 0),
                     ("blk.0.attn_q.weight", [d, q], 0), ("blk.0.attn_k.weight", [d, k], 0),
                     ("blk.0.attn_v.weight", [d, k], 0), ("blk.0.attn_output.weight", [q, d], 0),
                     ("blk.0.ffn_norm.weight", [d], 0), ("blk.0.ffn_gate.weight", [d, f], 0),
                     ("blk.0.ffn_down.weight", [f, d], 0), ("blk.0.ffn_up.weight", [d, f], 0),
                     ("output_norm.weight", [d], 0)]
        let dir = TempDir()
        let source = dir.write("nemo-like.gguf", g.build())
        _ = try export(source, dir.file("out.gguf"))
        let out = try GGUFFile(MappedFile(path: dir.file("out.gguf")))
        XCTAssertEqual(out.value("llama.attention.key_length"), .int(Int64(headDim)))
        XCTAssertEqual(out.value("llama.attention.value_length"), .int(Int64(headDim)))
        XCTAssertEqual(out.value("llama.rope.dimension_count"), .int(Int64(headDim)))
        let config = try ModelConfig.fromGGUF(out)
        XCTAssertEqual(config.headDim, headDim)
        XCTAssertEqual(config, try ModelConfig.fromGGUF(GGUFFile(MappedFile(path: source))))
        // Tied: the source has no output.weight, and neither has the export.
        XCTAssertNil(out.tensors.first { $0.name == "output.weight" })
        try assertSameTensors(source, dir.file("out.gguf"))
    }

    /// tiny-mistral from Hugging Face safetensors (q/k permuted for HF's rotary): the GGUF holds
    /// the native (interleaved) rows, which is what llama.cpp's converter writes, and reads back
    /// as the same native model with the same config (window included).
    func testTinyMistralExportReadsBackAsTheSameModel() throws {
        let dir = TempDir()
        let tmt = dir.file("tiny.tmt"), out = dir.file("tiny.gguf")
        try convert(Fixtures.tinyMistral("hf-safetensors-f32"), tmt)
        _ = try export(tmt, out)
        let g = try GGUFFile(MappedFile(path: out))
        XCTAssertEqual(g.value("llama.attention.sliding_window"), .int(16))
        XCTAssertEqual(g.value("llama.rope.dimension_count"), .int(8))
        // head_dim 8 = 64 / 8 heads: no key_length needed.
        XCTAssertNil(g.value("llama.attention.key_length"))
        XCTAssertEqual(g.value("general.file_type"), .int(0))
        let a = try Checkpoint.open(tmt), b = try Checkpoint.open(out)
        var expected = try XCTUnwrap(a.config)
        let found = try XCTUnwrap(b.config)
        XCTAssertEqual(found.architecture, "llama")
        expected.architecture = "llama"
        // GGUF stores the epsilon as float32.
        expected.normEps = Double(Float(expected.normEps))
        XCTAssertEqual(found, expected)
        let (na, nb) = (try a.native(), try b.native())
        XCTAssertEqual(na.tensors.map(\.name), nb.tensors.map(\.name))
        for (x, y) in zip(na.tensors, nb.tensors) {
            XCTAssertEqual(x.shape, y.shape, x.name)
            XCTAssertTrue(try x.load().array == y.load().array, x.name)
        }
    }

    /// tiny-mixtral's per-expert tensors become llama.cpp's stacked `ffn_*_exps` (expert
    /// outermost), which read back as the stacked native tensor holding the experts in order.
    func testMixtralExpertsAreStacked() throws {
        let dir = TempDir()
        let source = Fixtures.root.appendingPathComponent("tiny-mixtral/hf-bf16").path
        let out = dir.file("mix.gguf")
        _ = try export(source, out)
        let g = try GGUFFile(MappedFile(path: out))
        let moe = try XCTUnwrap(try Checkpoint.open(source).config?.moe)
        XCTAssertEqual(g.value("llama.expert_count"), .int(Int64(moe.numExperts)))
        XCTAssertEqual(g.value("llama.expert_used_count"), .int(Int64(moe.numExpertsPerToken)))
        XCTAssertFalse(g.tensors.contains { $0.name.contains("ffn_gate.0") })
        let stacked = try XCTUnwrap(g.tensors.first { $0.name == "blk.0.ffn_gate_exps.weight" })
        XCTAssertEqual(stacked.shape.first, moe.numExperts)
        let native = try Checkpoint.open(source).native()
        var concatenated: [UInt8] = []
        for e in 0..<moe.numExperts {
            concatenated += try XCTUnwrap(native.tensor("layers.0.feed_forward.experts.\(e).w1.weight")).load().array
        }
        XCTAssertTrue(try stacked.load().array == concatenated)
        XCTAssertNoThrow(try Checkpoint.open(out).native().checkAgainstConfig())
        // A GGUF with stacked experts (tiny-mixtral's, written by gguf-py) → .tmt → GGUF: the same bytes.
        let stackedSource = Fixtures.root.appendingPathComponent("tiny-mixtral/gguf-stacked/tiny-mixtral.gguf").path
        try convert(stackedSource, dir.file("stacked.tmt"))
        _ = try export(dir.file("stacked.tmt"), dir.file("stacked.gguf"))
        try assertSameTensors(stackedSource, dir.file("stacked.gguf"))
    }

    /// tiny-mistral's rows are 64 wide: its Q4_K/Q6_K tensors are all tail blocks. They are
    /// re-encoded to llama.cpp's fallback types (listed, with no more bits per weight than
    /// those), the Q8_0/F32 ones copied; `exact` refuses and leaves nothing behind.
    func testTailBlockTensorsAreReencodedOrRefused() throws {
        let dir = TempDir()
        let tmt = dir.file("q4_k_m.tmt"), out = dir.file("q4_k_m.gguf")
        var o = Quantizer.Options(recipe: try Recipe.preset("q4_k_m", layers: 2))
        o.threads = 2
        _ = try Quantizer.quantize(Fixtures.tinyMistral("native-safetensors-bf16"), to: tmt, options: o)
        let file = try TMTFile(path: tmt)
        let tails = file.tensors.filter { $0.tail != nil }
        XCTAssertFalse(tails.isEmpty)

        XCTAssertThrowsError(try export(tmt, out, exact: true)) { error in
            guard case PipelineError.noGGUFType(let names) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(names.count, tails.count)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }, [])

        let report = try export(tmt, out)
        XCTAssertEqual(Set(report.reencoded.map(\.tensor)), Set(tails.map(\.name)))
        let g = try GGUFFile(MappedFile(path: out))
        let map = try NameMap.named("gguf")
        for item in file.tensors {
            let name = try XCTUnwrap(map.source(forNative: item.name)?.1)
            let t = try XCTUnwrap(g.tensors.first { $0.name == name }, name)
            let r = report.reencoded.first { $0.tensor == item.name }
            switch item.dtype {
            case .q4_k?:
                XCTAssertEqual(t.dtype, .q5_0, item.name)
                XCTAssertLessThanOrEqual(try XCTUnwrap(r).bitsPerWeight, 5.5)
                XCTAssertLessThan(try XCTUnwrap(r).rmse, 0.05, item.name)
            case .q6_k?:
                XCTAssertEqual(t.dtype, .q8_0, item.name)
                XCTAssertLessThanOrEqual(try XCTUnwrap(r).bitsPerWeight, 8.5)
            default:
                XCTAssertNil(r, item.name)
                XCTAssertEqual(t.dtype, item.dtype, item.name)
                XCTAssertTrue(try t.load().array == file.data(of: item).array, item.name)
            }
        }
        // The re-encoded values stay close to the stored ones (the report's RMSE, measured again).
        let wq = try XCTUnwrap(file.tensor(named: "layers.0.attention.wq.weight"))
        let stored = try Checkpoint.open(tmt).native().tensor(wq.name)
        let exported = try XCTUnwrap(Checkpoint.open(out).native().tensor(wq.name))
        let n = exported.elementCount
        var x = [Float](repeating: 0, count: n), y = [Float](repeating: 0, count: n)
        try stored?.load().withBytes { b in try x.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: .q4_k, into: $0, columns: 64) } }
        try exported.load().withBytes { b in try y.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: .q5_0, into: $0, columns: 64) } }
        let rmse = (zip(x, y).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(n)).squareRoot()
        XCTAssertEqual(rmse, try XCTUnwrap(report.reencoded.first { $0.tensor == wq.name }).rmse, accuracy: 1e-9)
    }

    /// The output goes through OutputTarget/AtomicOutputFile: never an input, an existing file
    /// only with `replacing`.
    func testOutputIsCheckedAndAtomic() throws {
        let dir = TempDir()
        let tmt = dir.file("tiny.tmt")
        try convert(Fixtures.tinyMistral("native-safetensors-bf16"), tmt)
        XCTAssertThrowsError(try export(tmt, tmt, replacing: true)) { error in
            guard case OutputError.isInput = error else { return XCTFail("\(error)") }
        }
        let out = dir.write("exists.gguf", [1, 2, 3])
        XCTAssertThrowsError(try export(tmt, out)) { error in
            XCTAssertEqual(error as? OutputError, .exists(path: out))
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), Data([1, 2, 3]))
        _ = try export(tmt, out, replacing: true)
        XCTAssertNoThrow(try GGUFFile(MappedFile(path: out)))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }, [])
    }
}
