import XCTest
@testable import TensorCore

/// The pool's buffers: recycled when the last region using one goes, grown to the largest
/// request (or a close fit), at most `keep` held idle, zeroed if asked, and a failing fill
/// loses nothing.
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

    func testZeroedPoolClearsReusedBuffers() throws {
        let pool = BufferPool(keep: 1, zeroed: true)
        var first: PooledBuffer? = try pool.buffer(count: 3 << 20)
        let base = first?.mutableBytes.baseAddress
        XCTAssertTrue(first?.mutableBytes.allSatisfy { $0 == 0 } ?? false, "fresh pages are zero")
        first?.mutableBytes.initializeMemory(as: UInt8.self, repeating: 0xAB)
        first = nil
        XCTAssertEqual(pool.idleBytes, 4 << 20)
        let again = try pool.region(count: 2 << 20) { dst in XCTAssertTrue(dst.allSatisfy { $0 == 0 }, "reused and cleared") }
        XCTAssertEqual(again.bytes.baseAddress, base)
        XCTAssertEqual(pool.idleBytes, 0)
        // Not zeroed: release builds hand a reused buffer out as its last user left it; debug
        // builds (these tests, normally) fill every buffer, fresh or reused, with 0xFF first.
        let plain = BufferPool(keep: 1)
        let used = try plain.region(count: 1 << 20) { $0.initializeMemory(as: UInt8.self, repeating: 0xCD) }.bytes.baseAddress
        let reused = try plain.region(count: 1 << 20) { dst in
            #if DEBUG
            XCTAssertTrue(dst.allSatisfy { $0 == 0xFF }, "poisoned, not as it was left")
            #else
            XCTAssertEqual(dst[0], 0xCD, "as it was left")
            #endif
        }
        XCTAssertEqual(reused.bytes.baseAddress, used, "the same buffer")
    }

    func testDebugBuildsPoisonFreshBuffersOfAPlainPool() throws {
        #if DEBUG
        let fresh = try BufferPool(keep: 1).buffer(count: 5000)
        XCTAssertTrue(fresh.mutableBytes.allSatisfy { $0 == 0xFF }, "0xFF, not the kernel's zero pages")
        let zeroed = try BufferPool(keep: 1, zeroed: true).buffer(count: 5000)
        XCTAssertTrue(zeroed.mutableBytes.allSatisfy { $0 == 0 })
        #else
        throw XCTSkip("debug builds only")
        #endif
    }

    func testCloseFitDoesNotPinALargerBuffer() throws {
        let pool = BufferPool(keep: 2, reuse: .closeFit)
        var big: ByteRegion? = try pool.region(count: 8 << 20) { _ in }
        let bigBase = big?.bytes.baseAddress
        big = nil
        XCTAssertEqual(pool.idleBytes, 8 << 20)
        let small = try pool.region(count: 64 << 10) { _ in }
        XCTAssertNotEqual(small.bytes.baseAddress, bigBase, "a small tensor kept alive must not take 8 MiB")
        XCTAssertEqual(pool.idleBytes, 8 << 20, "the large one stays idle for a request its size")
        let near = try pool.region(count: 5 << 20) { _ in }
        XCTAssertEqual(near.bytes.baseAddress, bigBase, "within twice the request: reused")
        XCTAssertEqual(pool.idleBytes, 0)
    }

    func testBufferOutlivesItsPool() throws {
        var pool: BufferPool? = BufferPool(keep: 1)
        let region = try pool?.region(count: 1 << 20) { $0.initializeMemory(as: UInt8.self, repeating: 3) }
        pool = nil
        XCTAssertEqual(region?.bytes[0], 3, "still readable after the pool went")
    }
}
