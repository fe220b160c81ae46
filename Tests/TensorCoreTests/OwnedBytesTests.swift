import XCTest
@testable import TensorCore

final class OwnedBytesTests: XCTestCase {
    /// A large buffer freed goes to the mapping cache; the next request that fits reuses it,
    /// and still gets zeros where the previous owner wrote.
    func testReusedMappingIsZeroed() throws {
        MappingCache.shared.drain()   // what earlier tests left
        var first: UnsafeMutableRawPointer?
        do {
            let a = try OwnedBytes(count: 3 << 20)
            a.mutableBytes.initializeMemory(as: UInt8.self, repeating: 0xAB)
            first = a.mutableBytes.baseAddress
        }
        let b = try OwnedBytes(count: 2 << 20)
        XCTAssertEqual(b.mutableBytes.baseAddress, first, "the freed mapping is reused")
        XCTAssertTrue(b.mutableBytes.allSatisfy { $0 == 0 }, "reused memory is cleared")
        // Too small a request does not take a much larger mapping.
        let c = try OwnedBytes(count: 1 << 20)
        XCTAssertTrue(c.mutableBytes.allSatisfy { $0 == 0 })
        XCTAssertNotEqual(c.mutableBytes.baseAddress, b.mutableBytes.baseAddress)
    }

    func testCacheIsBounded() {
        let cache = MappingCache()
        var given = 0
        for _ in 0..<6 {
            let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
            if cache.give(p, 1 << 20) { given += 1 } else { p.deallocate() }
        }
        XCTAssertEqual(given, 4, "at most 4 entries")
        XCTAssertNil(cache.take(4 << 20), "nothing big enough")
        XCTAssertNil(cache.take(256 << 10), "entries more than twice the request stay")
        while let (p, _) = cache.take(1 << 20) { p.deallocate() }
    }

    /// A size no memory can hold (declared by a file, say) is an error, not a trap.
    func testImpossibleSizesThrow() {
        for n in [1 << 50, Int.max, -1] {
            XCTAssertThrowsError(try OwnedBytes(count: n), "\(n)") { XCTAssertTrue($0 is IOError, "\($0)") }
        }
        XCTAssertThrowsError(try ByteRegion.allocate(count: 1 << 50) { _ in XCTFail("never filled") })
    }
}
