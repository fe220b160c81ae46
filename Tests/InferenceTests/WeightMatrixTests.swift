import Quantization
import TensorCore
import XCTest
@testable import Inference

/// A repacked Q4_0 matrix answers any row range — whole 16-row groups or ranges that cut a
/// group, as a multi-matrix split can — like the row kernel, and with f32 activations like the
/// dequantized rows.
final class WeightMatrixTests: XCTestCase {
    func testPackedQ4_0MatvecOverAnyRowRange() throws {
        var seed: UInt64 = 9
        func r() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed) >> 40) / Float(1 << 23) }
        let rows = 48, n = 64
        let w = (0..<(rows * n)).map { _ in r() }
        let x = (0..<n).map { _ in r() }
        let rb = try DType.q4_0.rowBytes(n)
        let region = try ByteRegion.allocate(count: rows * rb) { dst in
            try w.withUnsafeBufferPointer { try Quantize.matrix($0, columns: n, dtype: .q4_0, mode: .reference, weights: nil, threads: 1, into: dst) }
        }
        let packed = try WeightMatrix(name: "w", dtype: .q4_0, rows: rows, columns: n, region: region)
        let plain = try WeightMatrix(name: "w", dtype: .q4_0, rows: rows, columns: n, region: region, arena: nil)
        XCTAssertNotNil(packed.packed)
        XCTAssertNil(plain.packed)
        try x.withUnsafeBufferPointer { xb in
            let xp = try XCTUnwrap(xb.baseAddress)
            let q8 = Q8Activation(xp, count: n)
            var scratch = [Float](repeating: 0, count: n)
            for range in [0..<48, 5..<37, 16..<32, 17..<18, 40..<48] {
                var a = [Float](repeating: .nan, count: rows), b = a, c = a, d = a
                scratch.withUnsafeMutableBufferPointer { s in
                    packed.matvec(xp, q8: q8, into: &a, rows: range, scratch: s.baseAddress!)
                    plain.matvec(xp, q8: q8, into: &b, rows: range, scratch: s.baseAddress!)
                    packed.matvec(xp, q8: nil, into: &c, rows: range, scratch: s.baseAddress!)
                    plain.matvec(xp, q8: nil, into: &d, rows: range, scratch: s.baseAddress!)
                }
                for o in 0..<rows {
                    if range.contains(o) {
                        XCTAssertEqual(a[o], b[o], accuracy: 1e-4, "\(range) row \(o): packed vs row kernel")
                        XCTAssertEqual(c[o], d[o], accuracy: 1e-5, "\(range) row \(o): f32 activations")
                    } else {
                        XCTAssertTrue(a[o].isNaN && c[o].isNaN, "\(range) row \(o) written outside the range")
                    }
                }
            }
        }
    }
}
