import XCTest
@testable import TensorCore

/// The quantizer's output buffers: recycled when the last region using one goes, grown to the
/// largest request, at most `keep` held idle, and a failing fill loses nothing.
final class BufferPoolTests: XCTestCase {
    func testRecycledAfterLastRegionGoes() throws {
        let pool = BufferPool(keep: 2)
        var first: ByteRegion? = try pool.region(count: 3 << 20) { $0.initializeMemory(as: UInt8.self, repeating: 7) }
        let base = first?.bytes.baseAddress
        XCTAssertEqual(first?.bytes.count, 3 << 20)
        XCTAssertEqual(first?.bytes[(3 << 20) - 1], 7)
        XCTAssertEqual(pool.idleBytes, 0, "in use")
        // A slice sharing the owner keeps the buffer taken.
        var slice = first.map { ByteRegion(owner: $0.owner, bytes: UnsafeRawBufferPointer(rebasing: $0.bytes[0..<16])) }
        first = nil
        XCTAssertEqual(pool.idleBytes, 0, "a slice still holds it")
        XCTAssertEqual(slice?.bytes[15], 7)
        slice = nil
        XCTAssertEqual(pool.idleBytes, 4 << 20, "back, rounded up to 2 MiB")
        let small = try BufferPool(keep: 1).region(count: 5000) { $0.initializeMemory(as: UInt8.self, repeating: 1) }
        XCTAssertEqual(small.bytes.count, 5000)
        let again = try pool.region(count: 1 << 20) { $0.initializeMemory(as: UInt8.self, repeating: 1) }
        XCTAssertEqual(again.bytes.baseAddress, base, "a smaller request reuses the idle buffer")
        XCTAssertEqual(again.bytes.count, 1 << 20)
    }

    func testGrowsAndKeepsAtMostKeep() throws {
        let pool = BufferPool(keep: 2)
        var live: [ByteRegion] = []
        for mib in [1, 2, 3] { live.append(try pool.region(count: mib << 20) { $0.initializeMemory(as: UInt8.self, repeating: 0) }) }
        live.removeAll()
        // 1 MiB stays 1 MiB (whole 4 KiB pages), 2 MiB is 2, 3 MiB rounds to 4: the two largest stay.
        XCTAssertEqual(pool.idleBytes, (2 + 4) << 20, "two kept, the smallest unmapped")
        let big = try pool.region(count: 9 << 20) { $0.initializeMemory(as: UInt8.self, repeating: 0) }
        XCTAssertEqual(big.bytes.count, 9 << 20)
        XCTAssertEqual(pool.idleBytes, 2 << 20, "the largest idle one was too small: replaced")
    }

    func testFailingFillReturnsTheBuffer() throws {
        struct Refused: Error {}
        let pool = BufferPool(keep: 1)
        XCTAssertThrowsError(try pool.region(count: 1 << 20) { _ in throw Refused() }) { XCTAssertTrue($0 is Refused) }
        XCTAssertEqual(pool.idleBytes, 1 << 20, "back in the pool")
    }
}
