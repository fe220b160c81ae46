import XCTest
@testable import TensorCore

final class XXH64Tests: XCTestCase {
    // Expected values from the Python `xxhash` package (xxhash.xxh64(data).intdigest()).
    func testKnownVectors() {
        let cases: [([UInt8], UInt64)] = [
            ([], 0xEF46_DB37_51D8_E999),
            (Array("a".utf8), 0xD24E_C4F1_A98C_6E5B),
            (Array("abc".utf8), 0x44BC_2CF5_AD77_0999),
            ((0..<768).map { UInt8($0 % 256) }, 0x8E03_C838_C596_036F),
            ([UInt8](repeating: UInt8(ascii: "x"), count: 33), 0xB3FA_465F_5542_08A6),
        ]
        for (data, expected) in cases {
            XCTAssertEqual(data.withUnsafeBytes { XXH64.hash($0) }, expected, "length \(data.count)")
        }
    }

    func testStreamingEqualsOneShot() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = data.withUnsafeBytes { XXH64.hash($0) }
        for split in [1, 7, 31, 32, 33, 100, 999] {
            var h = XXH64()
            data.withUnsafeBytes { b in
                h.update(UnsafeRawBufferPointer(rebasing: b[0..<split]))
                h.update(UnsafeRawBufferPointer(rebasing: b[split...]))
            }
            XCTAssertEqual(h.finalize(), whole, "split at \(split)")
        }
    }
}
