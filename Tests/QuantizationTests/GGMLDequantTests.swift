import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// Dequantization must reproduce gguf-py's reference decodings bit for bit
/// (Tests/Fixtures/quant/ggml-*.safetensors, copied from ../shared/fixtures/real/quant).
final class GGMLDequantTests: XCTestCase {
    func testDequantizeMatchesGGUFPyExactly() throws {
        for file in ["ggml-random.safetensors", "ggml-smollm2-rows.safetensors"] {
            let tensors = try FixtureSafetensors.read(Fixtures.quant(file))
            for (name, dtype) in [("Q8_0", DType.q8_0), ("Q4_0", .q4_0), ("Q4_1", .q4_1), ("Q5_0", .q5_0), ("Q5_1", .q5_1)] {
                guard let bt = tensors["\(name).bytes"], let expected = tensors["\(name).dequant"]?.bytes else {
                    return XCTFail("\(file): \(name) vectors missing")
                }
                let rows = bt.shape[0], bytes = bt.bytes
                let n = expected.count / 4
                XCTAssertEqual(try dtype.byteCount(elements: n), bytes.count)
                var out = [Float](repeating: .nan, count: n)
                try out.withUnsafeMutableBufferPointer { try Dequantize.toFloat(bytes.bytes, dtype: dtype, into: $0) }
                var mismatches = 0
                for i in 0..<n {
                    let e = expected.bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                    if out[i].bitPattern != e { mismatches += 1 }
                }
                XCTAssertEqual(mismatches, 0, "\(file) \(name): \(mismatches) of \(n) values differ (\(rows) rows)")
            }
        }
    }

    func testRefusesShortInput() {
        var out = [Float](repeating: 0, count: 64)
        let bytes = [UInt8](repeating: 0, count: 20)
        XCTAssertThrowsError(try bytes.withUnsafeBytes { b in try out.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: .q8_0, into: $0) } })
    }
}
