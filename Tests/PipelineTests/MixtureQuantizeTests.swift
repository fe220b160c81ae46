import Checkpoints
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

/// A Mixtral quantizes expert by expert (routers stay f32) and the quantized file still runs
/// close to transformers' logits.
final class MixtureQuantizeTests: XCTestCase {
    func testTinyMixtralQuantizesAndRuns() throws {
        for (source, stacked) in [(Fixtures.root.appendingPathComponent("tiny-mixtral/hf-bf16").path, false),
                                    (Fixtures.root.appendingPathComponent("tiny-mixtral/gguf-stacked/tiny-mixtral.gguf").path, true)] {
            let dir = TempDir()
            let reference = Fixtures.root.appendingPathComponent("tiny-mixtral/reference-logits.safetensors").path
            let out = dir.file("q8_0.tmt")
            var o = Quantizer.Options(recipe: try Recipe.preset("q8_0", layers: 2))
            o.threads = 2
            let plan = try Quantizer.quantize(source, to: out, options: o)
            let types = Dictionary(uniqueKeysWithValues: plan.tensors.map { ($0.name, $0.type) })
            XCTAssertEqual(types["layers.1.feed_forward.gate.weight"], "f32")
            XCTAssertEqual(types[stacked ? "layers.1.feed_forward.experts.w2.weight" : "layers.1.feed_forward.experts.3.w2.weight"], "q8_0")
            let results = try Validator.againstLogits(model: try Validator.load(out, threads: 2), file: reference)
            let r = try XCTUnwrap(results.first)
            XCTAssertLessThan(r.meanKLD, 0.01)
            XCTAssertGreaterThanOrEqual(r.top1Agreement, 0.9, source)
        }
    }

    /// Importance recorded per expert reaches the experts whether they are stored one tensor
    /// each (Hugging Face) or stacked (GGUF's ffn_*_exps): the quantized bytes change.
    func testImatrixReachesEveryExpertLayout() throws {
        let reference = Fixtures.root.appendingPathComponent("tiny-mixtral/reference-logits.safetensors").path
        let tokens = try XCTUnwrap(ReferenceInputs.ids(reference, "random.input_ids"))
        for (source, tensor) in [(Fixtures.root.appendingPathComponent("tiny-mixtral/hf-bf16").path, "layers.1.feed_forward.experts.2.w1.weight"),
                                 (Fixtures.root.appendingPathComponent("tiny-mixtral/gguf-stacked/tiny-mixtral.gguf").path, "layers.1.feed_forward.experts.w1.weight")] {
            let dir = TempDir()
            let imatrix = try ImportanceMatrix.collect(model: try Validator.load(source, threads: 2), tokens: tokens, ctx: 20, chunks: 2, bos: 1)
            XCTAssertNotNil(imatrix.weights(for: "layers.1.feed_forward.experts.2.w1.weight"))
            func quantized(_ m: ImportanceMatrix?, batchWeights: Int = TensorBatch.limit) throws -> [UInt8] {
                let out = dir.file(m == nil ? "plain.tmt" : "imatrix-\(batchWeights).tmt")
                var o = Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 2))
                o.threads = 2
                o.imatrix = m
                o.batchWeights = batchWeights
                _ = try Quantizer.quantize(source, to: out, options: o)
                let t = try XCTUnwrap(Checkpoint.open(out).native().tensor(tensor))
                return try t.load().withBytes { [UInt8]($0) }
            }
            let weighted = try quantized(imatrix), plain = try quantized(nil)
            XCTAssertTrue(weighted != plain, "importance did not reach \(tensor) of \(source)")
            // Cut into slices of 5 rows (of 32 columns here) that straddle the stacked experts'
            // boundaries: each part still takes its own expert's importance.
            let columns = try XCTUnwrap(Checkpoint.open(source).native().tensor(tensor)?.shape.last)
            XCTAssertEqual(try quantized(imatrix, batchWeights: 5 * columns), weighted, "sliced \(source)")
        }
    }
}

extension MixtureQuantizeTests {
    /// A NaN in a stacked expert tensor quantized expert by expert is reported at its position
    /// in the whole tensor, not in the expert's slice.
    func testNonFiniteInStackedExpertNamesItsPosition() throws {
        let experts = 3, rows = 2, columns = 64
        var values = [Float](repeating: 0.1, count: experts * rows * columns)
        let bad = 2 * rows * columns + columns + 5   // expert 2, row 1, column 5
        values[bad] = .nan
        let name = "layers.0.feed_forward.experts.w1.weight"
        var o = Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 1))
        o.imatrix = ImportanceMatrix(columns: (0..<experts).reduce(into: [:]) { $0["layers.0.feed_forward.experts.\($1).w1.weight"] = [Float](repeating: 1, count: columns) },
                                     metadata: [:])
        XCTAssertThrowsError(try values.withUnsafeBufferPointer {
            try Quantizer.encode($0, name: name, shape: [experts, rows, columns], columns: columns, type: .q4_0, options: o)
        }) { e in
            guard case TensorError.nonFinite(let t, let i, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(t, name)
            XCTAssertEqual(i, bad)
        }
    }
}

/// Token ids stored as an integer tensor in a safetensors file.
enum ReferenceInputs {
    static func ids(_ path: String, _ name: String) throws -> [Int]? {
        guard let t = try Safetensors.read(MappedFile(path: path)).tensors.first(where: { $0.name == name }) else { return nil }
        return try t.load().withBytes { b in (0..<t.elementCount).map { Int(b.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) } }
    }
}
