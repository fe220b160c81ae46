import Quantization
import TensorCore
import XCTest

/// A NaN or infinity in the weights is refused with its position, in every format and mode,
/// instead of trapping in a float → integer conversion.
final class NonFiniteTests: XCTestCase {
    func testNaNAndInfinityAreTypedErrors() throws {
        let n = 256
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = (0..<(2 * n)).map { Float($0 % 17) * 0.01 }
            x[n + 37] = bad
            for dtype in [DType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q6_k] {
                for mode in [Quantize.Mode.search, .reference] {
                    var out = [UInt8](repeating: 0, count: 2 * (try dtype.rowBytes(n)))
                    XCTAssertThrowsError(try x.withUnsafeBufferPointer { xb in
                        try out.withUnsafeMutableBytes { try Quantize.matrix(xb, columns: n, dtype: dtype, mode: mode, weights: nil, threads: 2, into: $0) }
                    }, "\(dtype) \(mode) \(bad)") { error in
                        guard case TensorError.nonFinite(_, let index, _) = error else { return XCTFail("\(error)") }
                        XCTAssertEqual(index, n + 37)
                    }
                }
            }
        }
    }
}
