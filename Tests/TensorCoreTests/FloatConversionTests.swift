import XCTest
@testable import TensorCore

final class FloatConversionTests: XCTestCase {
    func testBF16RoundsToNearestEven() {
        XCTAssertEqual(FloatConversion.floatToBF16(1.0), 0x3F80)
        // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even one (1.0).
        XCTAssertEqual(FloatConversion.floatToBF16(1.0 + 1.0 / 256), 0x3F80)
        XCTAssertEqual(FloatConversion.floatToBF16(1.0 + 3.0 / 256), 0x3F82)
        XCTAssertTrue(FloatConversion.bf16ToFloat(FloatConversion.floatToBF16(.nan)).isNaN)
        for x: Float in [0, -0.5, 3.140625, 65536, 0x1p-100] {
            XCTAssertEqual(FloatConversion.bf16ToFloat(FloatConversion.floatToBF16(x)), x, "\(x) is bf16-exact")
        }
    }

    func testF16OverflowIsRefusedWithTheTensorName() {
        let values: [Float] = [1, 65504, 70000]
        var out = [UInt8](repeating: 0, count: 6)
        XCTAssertThrowsError(try values.withUnsafeBufferPointer { v in
            try out.withUnsafeMutableBytes { try FloatConversion.fromFloat(v, to: .f16, into: $0, tensor: "layers.3.w2") }
        }) { e in
            XCTAssertEqual(e as? TensorError, .valueOutOfRange(tensor: "layers.3.w2", value: 70000, target: .f16))
        }
    }

    func testRoundTripThroughF16AndBF16() throws {
        let values: [Float] = [0, 1, -2, 0.5, 1024, -0.125]
        for dtype in [DType.f16, .bf16, .f32] {
            var enc = [UInt8](repeating: 0, count: values.count * dtype.blockBytes)
            try values.withUnsafeBufferPointer { v in try enc.withUnsafeMutableBytes { try FloatConversion.fromFloat(v, to: dtype, into: $0, tensor: "t") } }
            var back = [Float](repeating: .nan, count: values.count)
            try enc.withUnsafeBytes { e in try back.withUnsafeMutableBufferPointer { try FloatConversion.toFloat(e, dtype: dtype, into: $0) } }
            XCTAssertEqual(back, values, "\(dtype)")
        }
    }

    func testByteCountRefusesOverflowAndPartialBlocks() {
        XCTAssertThrowsError(try DType.f32.byteCount(elements: Int.max / 2))
        XCTAssertThrowsError(try DType.q4_0.byteCount(elements: 33))
        XCTAssertEqual(try DType.q4_0.byteCount(elements: 64), 36)
        XCTAssertThrowsError(try elementCount([Int.max, 4]))
        XCTAssertThrowsError(try elementCount([3, -1]))
    }
}
