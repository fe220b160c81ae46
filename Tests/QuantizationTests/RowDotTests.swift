import Quantization
import TensorCore
import TestSupport
import XCTest

/// The SIMD row kernels against the scalar reference, on random rows with outliers.
final class RowDotTests: XCTestCase {
    func testKernelsAgreeWithScalarReference() throws {
        var s: UInt64 = 17
        func r() -> Float { s = s &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: s) >> 40) / Float(1 << 23) }
        let n = 576
        let w = (0..<(4 * n)).map { i in r() * (i % 97 == 0 ? 20 : 1) }
        let x = (0..<n).map { _ in r() }
        for dtype in [DType.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q6_k] {
            var bytes = [UInt8](repeating: 0, count: 4 * (try dtype.rowBytes(n)))
            try w.withUnsafeBufferPointer { wb in
                try bytes.withUnsafeMutableBytes { out in
                    switch dtype {
                    case .f32, .f16, .bf16: try FloatConversion.fromFloat(wb, to: dtype, into: out, tensor: "w")
                    default: try Quantize.matrix(wb, columns: n, dtype: dtype, mode: .search, weights: nil, threads: 1, into: out)
                    }
                }
            }
            let rb = try dtype.rowBytes(n)
            try bytes.withUnsafeBytes { b in
                try x.withUnsafeBufferPointer { xb in
                    var scratch = [Float](repeating: 0, count: n)
                    for row in 0..<4 {
                        let p = b.baseAddress! + row * rb
                        let fast = scratch.withUnsafeMutableBufferPointer { RowDot.dot(p, dtype: dtype, xb.baseAddress!, n, scratch: $0.baseAddress!) }
                        let slow = try RowDot.scalarDot(p, dtype: dtype, xb.baseAddress!, n)
                        XCTAssertEqual(fast, slow, accuracy: 1e-4 * max(1, abs(slow)), "\(dtype) row \(row)")
                    }
                    _ = try XCTUnwrap(Optional(0))
                }
            }
        }
    }
}
