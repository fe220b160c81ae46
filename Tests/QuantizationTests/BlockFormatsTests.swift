import Quantization
import TensorCore
import XCTest

/// The format table: every block type has exactly one format, whose layout adds up to the
/// type's block size, and the tail and ggml facts are consistent.
final class BlockFormatsTests: XCTestCase {
    func testEveryBlockTypeHasOneFormatWhoseLayoutMatches() {
        let blockTypes = DType.allCases.filter(\.isBlockQuantized)
        XCTAssertEqual(Set(BlockFormats.all.map { $0.dtype }), Set(blockTypes), "the list names each block type")
        XCTAssertEqual(BlockFormats.all.count, blockTypes.count, "once")
        for f in BlockFormats.all {
            XCTAssertEqual(f.layoutBytes, f.dtype.blockBytes, "\(f.dtype): layout vs table")
            XCTAssertTrue(BlockFormats.format(f.dtype) == f, "\(f.dtype) resolves to its own format")
        }
        for t in DType.allCases where !t.isBlockQuantized { XCTAssertNil(BlockFormats.format(t), "\(t) is not a block format") }
    }

    func testTailsAndGGMLTypes() {
        for t in DType.allCases {
            if let tail = t.tailType {
                XCTAssertEqual(t.blockSize, 256, "\(t): only super-block formats have tails")
                XCTAssertEqual(tail.blockSize, 32, "\(t)'s tail")
                XCTAssertNil(tail.tailType)
                XCTAssertNotNil(BlockFormats.format(tail))
                XCTAssertTrue(t.hasTailBlocks(columns: 576))
                XCTAssertFalse(t.hasTailBlocks(columns: 4096))
            } else {
                XCTAssertFalse(t.hasTailBlocks(columns: 576))
            }
            if let id = t.traits.ggmlType { XCTAssertEqual(DType(ggmlType: id), t, "ggml type \(id)") }
        }
        let ids = DType.allCases.compactMap(\.traits.ggmlType)
        XCTAssertEqual(Set(ids).count, ids.count, "ggml ids are unique")
        // ggml.h's numbering for a few well-known types.
        XCTAssertEqual(DType(ggmlType: 8), .q8_0)
        XCTAssertEqual(DType(ggmlType: 12), .q4_k)
        XCTAssertEqual(DType(ggmlType: 30), .bf16)
        XCTAssertEqual(DType(ggmlType: 13), .q5_k)
        XCTAssertEqual(DType(ggmlType: 11), .q3_k)
        XCTAssertEqual(DType(ggmlType: 10), .q2_k)
        XCTAssertEqual(DType(ggmlType: 20), .iq4_nl)
        XCTAssertEqual(DType(ggmlType: 23), .iq4_xs)
        XCTAssertNil(DType(ggmlType: 16), "IQ2_XXS is not read")
    }
}
