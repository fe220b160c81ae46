import Quantization
import TensorCore
import TestSupport
import XCTest

/// The batched Q4_0 × Q8-tokens kernel against the plain product of the dequantized weights
/// and the dequantized token levels, summed in Double: rows in whole 32-row groups, columns
/// over several 256-column stretches (one partial), token counts that leave 0–3 tokens for a
/// last, partial group of four; a matrix ending in a half group (16 rows); outputs written into
/// a wider matrix (its stride).
final class Q4_0TokenGEMMTests: XCTestCase {
    func testMatchesTheDequantizedProduct() throws {
        var rng = SeededRandom(seed: 11)
        let rows = 80, n = 608   // 2½ groups of 32 rows; 19 blocks: stretches of 8, 8 and 3
        let w = (0..<(rows * n)).map { i in Float.random(in: -1...1, using: &rng) * (i % 89 == 0 ? 12 : 1) }
        let rb = try DType.q4_0.rowBytes(n)
        var bytes = [UInt8](repeating: 0, count: rows * rb)
        try w.withUnsafeBufferPointer { wb in
            try bytes.withUnsafeMutableBytes { try Quantize.matrix(wb, columns: n, dtype: .q4_0, mode: .search, weights: nil, threads: 1, into: $0) }
        }
        try bytes.withUnsafeBytes { b in
            let packed = try XCTUnwrap(PackedQ4_0(b.baseAddress!, rows: rows, columns: n))
            XCTAssertTrue(packed.acceptsTokenGEMM)
            var wf = [Float](repeating: 0, count: rows * n)
            wf.withUnsafeMutableBufferPointer { packed.dequantize(rows: 0..<rows, into: $0.baseAddress!) }
            for tokens in [1, 4, 6, 7] {
                let x = (0..<(tokens * n)).map { i in Float.random(in: -2...2, using: &rng) * (i % 97 == 0 ? 9 : 1) }
                let a = x.withUnsafeBufferPointer { Q8Tokens($0.baseAddress!, tokens: tokens, columns: n) }
                let stride = rows + 5
                var y = [Float](repeating: .nan, count: tokens * stride)
                // Two calls over two row ranges, as the parallel region splits a matrix.
                y.withUnsafeMutableBufferPointer { yb in
                    packed.multiply(a, rows: 0..<32, into: yb.baseAddress!, stride: stride)
                    packed.multiply(a, rows: 32..<rows, into: yb.baseAddress!, stride: stride)   // 32 + 16
                }
                for t in 0..<tokens {
                    for o in 0..<rows {
                        var reference = 0.0, magnitude = 0.0
                        for i in 0..<n {
                            let p = Double(wf[o * n + i]) * Double(a.value(t, i))
                            reference += p
                            magnitude += abs(p)
                        }
                        XCTAssertEqual(Double(y[t * stride + o]), reference, accuracy: 1e-5 * max(1, magnitude), "token \(t) of \(tokens), row \(o)")
                    }
                    for o in rows..<stride { XCTAssertTrue(y[t * stride + o].isNaN, "wrote outside its rows") }
                }
            }
        }
    }

    /// The token quantizer: levels within ±127 and each value within half a step of x.
    func testTokenQuantizer() {
        var rng = SeededRandom(seed: 3)
        let n = 96, tokens = 3
        var x = (0..<(tokens * n)).map { _ in Float.random(in: -3...3, using: &rng) }
        x[40] = 0; for i in 64..<96 { x[i] = 0 }   // a zero block
        let a = x.withUnsafeBufferPointer { Q8Tokens($0.baseAddress!, tokens: tokens, columns: n) }
        for t in 0..<tokens {
            for b in 0..<(n / 32) {
                let block = x[(t * n + 32 * b)..<(t * n + 32 * b + 32)]
                let d = (block.map { abs($0) }.max() ?? 0) / 127
                for i in 0..<32 {
                    XCTAssertEqual(a.value(t, 32 * b + i), x[t * n + 32 * b + i], accuracy: d / 2 + 1e-7)
                }
            }
        }
    }
}
