import Quantization
import TensorCore
import XCTest

/// The repacked Q4_0 layout decodes to exactly the original rows, and its row-per-lane kernel
/// gives the same dot products as the row kernel (`Q8Dot`) and the scalar reference (the
/// integer sums are exact; only f32 rounding of the per-block terms differs, ~1e-5 here).
final class PackedQ4_0Tests: XCTestCase {
    func testRepackedRowsDecodeAndMultiplyLikeTheOriginal() throws {
        var seed: UInt64 = 5
        func r() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed) >> 40) / Float(1 << 23) }
        let rows = 48, n = 576
        let w = (0..<(rows * n)).map { i in r() * (i % 89 == 0 ? 15 : 1) }
        let x = (0..<n).map { i in r() * (i % 101 == 0 ? 8 : 1) }
        XCTAssertTrue(PackedQ4_0.accepts(rows: rows, columns: n))
        XCTAssertFalse(PackedQ4_0.accepts(rows: 40, columns: n))
        let rb = try DType.q4_0.rowBytes(n)
        var bytes = [UInt8](repeating: 0, count: rows * rb)
        try w.withUnsafeBufferPointer { wb in
            try bytes.withUnsafeMutableBytes { try Quantize.matrix(wb, columns: n, dtype: .q4_0, mode: .search, weights: nil, threads: 1, into: $0) }
        }
        let a = x.withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }
        try bytes.withUnsafeBytes { b in
            let packed = try XCTUnwrap(PackedQ4_0(b.baseAddress!, rows: rows, columns: n))
            var original = [Float](repeating: 0, count: rows * n), unpacked = original
            try original.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: .q4_0, into: $0, columns: n) }
            unpacked.withUnsafeMutableBufferPointer { packed.dequantize(rows: 0..<rows, into: $0.baseAddress!) }
            XCTAssertEqual(unpacked, original)
            var tail = [Float](repeating: 0, count: 3 * n)
            tail.withUnsafeMutableBufferPointer { packed.dequantize(rows: 21..<24, into: $0.baseAddress!) }
            XCTAssertEqual(tail, Array(original[(21 * n)..<(24 * n)]))

            var y = [Float](repeating: 0, count: rows)
            packed.matvec(a, groups: 0..<(rows / 16), into: &y)
            for row in 0..<rows {
                let p = b.baseAddress! + row * rb
                let reference = try Q8Dot.scalarDot(p, dtype: .q4_0, a)
                XCTAssertEqual(y[row], Q8Dot.dot(p, kernel: try XCTUnwrap(Q8Dot.kernel(.q4_0)), a), accuracy: 1e-4 * max(1, abs(reference)), "row \(row) vs row kernel")
                XCTAssertEqual(y[row], reference, accuracy: 1e-4 * max(1, abs(reference)), "row \(row) vs scalar")
            }
        }
    }
}
