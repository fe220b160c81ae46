import XCTest
@testable import TensorCore

/// The one allocator: its rounding rule, huge-page alignment, kernel-zeroed memory, and sizes
/// no memory can hold thrown, not trapped on.
final class AnonymousMappingTests: XCTestCase {
    func testRoundingRule() {
        XCTAssertEqual(AnonymousMapping.length(for: 0), 4096)
        XCTAssertEqual(AnonymousMapping.length(for: 5000), 8192)
        XCTAssertEqual(AnonymousMapping.length(for: (2 << 20) - 1), 2 << 20, "just under 2 MiB: 4 KiB pages")
        XCTAssertEqual(AnonymousMapping.length(for: (2 << 20) + 1), 4 << 20, "from 2 MiB: whole 2 MiB pages")
        XCTAssertNil(AnonymousMapping.length(for: Int.max))
    }

    func testLargeMappingsAreHugePageAlignedAndZero() throws {
        for bytes in [2 << 20, 3 << 20, 33 << 20] {
            let m = try AnonymousMapping(bytes: bytes)
            XCTAssertEqual(Int(bitPattern: m.base) % AnonymousMapping.hugePage, 0, "\(bytes)")
            XCTAssertEqual(m.size % AnonymousMapping.hugePage, 0)
            let b = m.bytes(m.size)
            XCTAssertTrue(b.allSatisfy { $0 == 0 })
            b.initializeMemory(as: UInt8.self, repeating: 1)   // all of it is mapped
        }
        let small = try AnonymousMapping(bytes: 100)
        XCTAssertEqual(Int(bitPattern: small.base) % 4096, 0)
        XCTAssertEqual(small.size, 4096)
    }

    func testArenaPiecesShareHugePageMappings() throws {
        let arena = LargeBufferArena()
        let a = try XCTUnwrap(arena.allocate(100)), b = try XCTUnwrap(arena.allocate(100))
        XCTAssertTrue(a.1 === b.1, "small pieces share a mapping")
        XCTAssertEqual(b.0 - a.0, 128, "64-byte aligned pieces")
        XCTAssertEqual(Int(bitPattern: a.1.base) % AnonymousMapping.hugePage, 0)
        let own = try XCTUnwrap(arena.allocate(9 << 20))
        XCTAssertEqual(Int(bitPattern: own.0) % AnonymousMapping.hugePage, 0)
        XCTAssertNil(arena.allocate(-1))
    }

    /// A size no memory can hold (declared by a file, say) is an error, not a trap.
    func testImpossibleSizesThrow() {
        for n in [1 << 50, Int.max, Int.max - 4096, -1] {
            XCTAssertThrowsError(try AnonymousMapping(bytes: n), "\(n)") { XCTAssertTrue($0 is IOError, "\($0)") }
            XCTAssertThrowsError(try BufferPool(keep: 1).buffer(count: n), "\(n)")
        }
        XCTAssertThrowsError(try ByteRegion.allocate(count: 1 << 50) { _ in XCTFail("never filled") })
    }

    func testAllocateIsZeroedAndSized() throws {
        let r = try ByteRegion.allocate(count: 3 << 20) { dst in
            XCTAssertTrue(dst.allSatisfy { $0 == 0 })
            dst[5] = 9
        }
        XCTAssertEqual(r.count, 3 << 20)
        XCTAssertEqual(r.bytes[5], 9)
        XCTAssertEqual(try ByteRegion.copying(UnsafeRawBufferPointer(start: nil, count: 0)).count, 0)
    }
}
