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

    /// The SIMD decoders (16 BF16 or 8 F16 values a step) give exactly the scalar conversion for
    /// every 16-bit pattern (NaNs, infinities, subnormals, ±0 included), at every length and
    /// offset around the vector width.
    func testVectorDecodersMatchScalarForEveryBitPattern() throws {
        let all = (0...0xFFFF).map { UInt16($0) }
        var bytes: [UInt8] = []
        for b in all { bytes.append(UInt8(b & 0xFF)); bytes.append(UInt8(b >> 8)) }
        for dtype in [DType.bf16, .f16] {
            var out = [Float](repeating: 0, count: all.count)
            try bytes.withUnsafeBytes { b in try out.withUnsafeMutableBufferPointer { try FloatConversion.toFloat(b, dtype: dtype, into: $0) } }
            for (i, bits) in all.enumerated() {
                let want = dtype == .bf16 ? FloatConversion.bf16ToFloat(bits) : FloatConversion.f16ToFloat(bits)
                guard out[i].bitPattern == want.bitPattern else { return XCTFail("\(dtype) \(String(bits, radix: 16)): \(out[i]) vs \(want)") }
            }
            // Lengths and starts that leave a scalar tail.
            for start in [0, 1, 7] {
                for n in [0, 1, 7, 8, 15, 16, 17, 33] {
                    var part = [Float](repeating: 0, count: n)
                    try bytes.withUnsafeBytes { b in
                        try part.withUnsafeMutableBufferPointer {
                            try FloatConversion.toFloat(UnsafeRawBufferPointer(rebasing: b[(2 * start)..<(2 * (start + n))]), dtype: dtype, into: $0)
                        }
                    }
                    XCTAssertEqual(part.map(\.bitPattern), out[start..<(start + n)].map(\.bitPattern), "\(dtype) from \(start), \(n) values")
                }
            }
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
