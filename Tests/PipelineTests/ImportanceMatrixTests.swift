import Checkpoints
import Foundation
import Inference
import Quantization
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

final class ImportanceMatrixTests: XCTestCase {
    func testCollectWriteReadAndUse() throws {
        let dir = TempDir()
        let src = Fixtures.tinyMistral("hf-safetensors-f32")
        let model = try Validator.load(src, threads: 2)
        var s: UInt64 = 3
        let ids = (0..<512).map { _ in s = s &* 6364136223846793005 &+ 1; return Int(s >> 33) % 1024 }
        let m = try ImportanceMatrix.collect(model: model, tokens: ids, ctx: 128, chunks: nil, bos: 1)
        XCTAssertEqual(m.columns.count, 2 * 7 + 1)
        XCTAssertEqual(m.columns["layers.1.feed_forward.w2.weight"]?.count, 192)
        XCTAssertEqual(m.columns["layers.0.attention.wo.weight"]?.count, 64)
        XCTAssertTrue(m.columns.values.allSatisfy { $0.allSatisfy { $0 >= 0 && $0.isFinite } })
        XCTAssertEqual(m.metadata["tokens"], "512")
        XCTAssertTrue(model.observer == nil, "the observer is removed after collection")

        let path = dir.file("m.imatrix")
        try m.write(to: OutputTarget(path))
        let back = try ImportanceMatrix.read(path)
        XCTAssertEqual(back.columns, m.columns)
        XCTAssertEqual(back.metadata["chunks"], "4")

        // Weighted by the importance, the imatrix quantization has the lower error.
        let w = try XCTUnwrap(Checkpoint.open(src).native().tensor("layers.0.feed_forward.w1.weight"))
        let values = try Quantizer.floats(w, try w.load(), columns: 64)
        let importance = try XCTUnwrap(back.columns[w.name])
        var plain = Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 2))
        plain.threads = 1
        var weighted = plain
        weighted.imatrix = back
        func weightedError(_ o: Quantizer.Options) throws -> Double {
            let q = try values.withUnsafeBufferPointer { try Quantizer.encode($0, name: w.name, columns: 64, type: .q4_0, options: o) }
            var y = [Float](repeating: 0, count: values.count)
            try q.withBytes { b in try y.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: .q4_0, into: $0, columns: 64) } }
            return values.indices.reduce(0.0) { $0 + Double(importance[$1 % 64]) * Double((values[$1] - y[$1]) * (values[$1] - y[$1])) }
        }
        XCTAssertLessThan(try weightedError(weighted), try weightedError(plain))
    }
}
