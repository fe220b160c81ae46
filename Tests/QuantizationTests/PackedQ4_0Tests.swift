@testable import Quantization
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

    /// Levels 15 (raw byte 0xFF) and 0 everywhere against activations all at ±127: the largest
    /// 16-bit partial sums the byte kernel forms (8 pairs of 15·127 per half block), and the
    /// lane kernel and the byte kernel equal to the bit (the same integer sums, the same f32 terms).
    func testExtremeLevelsAndBothKernels() throws {
        let rows = 32, n = 256, rb = try DType.q4_0.rowBytes(n)
        var bytes = [UInt8](repeating: 0, count: rows * rb)
        for r in 0..<rows {
            for b in 0..<(n / 32) {
                let at = r * rb + 18 * b
                let d = Float16(r % 3 == 0 ? 0.5 : -0.25).bitPattern
                bytes[at] = UInt8(d & 0xFF); bytes[at + 1] = UInt8(d >> 8)
                for j in 0..<16 { bytes[at + 2 + j] = r % 2 == 0 ? 0xFF : (b % 2 == 0 ? 0x00 : 0x0F) }
            }
        }
        var seed: UInt64 = 9
        let random = (0..<n).map { _ -> Float in seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed) >> 40) / Float(1 << 23) }
        for x in [[Float](repeating: 1, count: n), [Float](repeating: -1, count: n), random] {
            let a = x.withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }
            try bytes.withUnsafeBytes { b in
                let packed = try XCTUnwrap(PackedQ4_0(b.baseAddress!, rows: rows, columns: n))
                var y = [Float](repeating: 0, count: rows), lanes = y
                packed.matvec(a, groups: 0..<(rows / 16), into: &y)
                packed.matvecLanes(a, groups: 0..<(rows / 16), into: &lanes)
                XCTAssertEqual(y, lanes)
                for row in 0..<rows {
                    let reference = try Q8Dot.scalarDot(b.baseAddress! + row * rb, dtype: .q4_0, a)
                    XCTAssertEqual(y[row], reference, accuracy: 1e-4 * max(1, abs(reference)), "row \(row)")
                }
            }
        }
    }
}
