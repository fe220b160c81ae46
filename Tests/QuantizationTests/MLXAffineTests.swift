import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// MLX affine groups made from ggml blocks dequantize (w = scale·q + bias) to ggml's own values.
final class MLXAffineTests: XCTestCase {
    func check(_ dtype: DType, scales: DType, columns: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let bits = try XCTUnwrap(MLXAffine.exactBits(dtype, scales: scales), file: file, line: line)
        var rng = SeededRandom(seed: 7)
        let rows = 3
        // Outliers and a sign mix, as real weights have.
        let x = (0..<(rows * columns)).map { i in Float.random(in: -1...1, using: &rng) * (i % 37 == 0 ? 20 : 1) }
        let rowBytes = try dtype.rowBytes(columns)
        var stored = [UInt8](repeating: 0, count: rows * rowBytes)
        try x.withUnsafeBufferPointer { xs in
            try stored.withUnsafeMutableBytes { out in
                for r in 0..<rows {
                    try Quantize.row(xs.baseAddress! + r * columns, columns, dtype: dtype, mode: .search, weights: nil, into: out.baseAddress! + r * rowBytes)
                }
            }
        }
        var expected = [Float](repeating: 0, count: rows * columns)
        try stored.withUnsafeBytes { s in try expected.withUnsafeMutableBufferPointer { try Dequantize.toFloat(s, dtype: dtype, into: $0, columns: columns) } }
        let groups = columns / 32, perRow = columns * bits / 32
        var words = [UInt32](repeating: 0, count: rows * perRow)
        var sc = [Float](repeating: 0, count: rows * groups), bi = sc
        var got = [Float](repeating: 0, count: rows * columns)
        stored.withUnsafeBytes { s in words.withUnsafeMutableBufferPointer { w in sc.withUnsafeMutableBufferPointer { c in bi.withUnsafeMutableBufferPointer { b in
            for r in 0..<rows {
                MLXAffine.convertRow(s.baseAddress! + r * rowBytes, dtype: dtype, columns: columns, words: w.baseAddress! + r * perRow,
                                     scales: c.baseAddress! + r * groups, biases: b.baseAddress! + r * groups)
            }
        } } } }
        // The scales and biases as the file stores them.
        if scales == .f16 {
            for i in sc.indices { XCTAssertEqual(Float(Float16(sc[i])), sc[i], file: file, line: line); XCTAssertEqual(Float(Float16(bi[i])), bi[i], file: file, line: line) }
        }
        words.withUnsafeBufferPointer { w in sc.withUnsafeBufferPointer { c in bi.withUnsafeBufferPointer { b in got.withUnsafeMutableBufferPointer { g in
            for r in 0..<rows {
                MLXAffine.dequantizeRow(words: w.baseAddress! + r * perRow, scales: c.baseAddress! + r * groups, biases: b.baseAddress! + r * groups,
                                        bits: bits, columns: columns, into: g.baseAddress! + r * columns)
            }
        } } } }
        // Bit for bit up to the sign of zero (x + 0 is +0 for both zeros).
        let differing = zip(got, expected).filter { ($0 + 0).bitPattern != ($1 + 0).bitPattern }
        XCTAssertTrue(differing.isEmpty, "\(dtype.rawValue) \(columns): \(differing.count) differ, first \(differing.prefix(3))", file: file, line: line)
    }

    func testExactFormatsDequantizeAsGGML() throws {
        for dtype in [DType.q4_0, .q4_1, .q8_0] {
            for scales in [DType.f16, .f32] { try check(dtype, scales: scales, columns: 576) }
        }
        // Q4_K with f32 scales: two super-blocks then two Q4_1 tail blocks (SmolLM2's 576), and whole super-blocks.
        try check(.q4_k, scales: .f32, columns: 576)
        try check(.q4_k, scales: .f32, columns: 512)
        XCTAssertNil(MLXAffine.exactBits(.q4_k, scales: .f16), "d·sc needs 17 bits: not exact as f16")
        XCTAssertNil(MLXAffine.exactBits(.q6_k, scales: .f32))
    }
}
