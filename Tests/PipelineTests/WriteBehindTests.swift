import XCTest
@testable import Pipeline

/// Background writes run in order, one at a time, and a failure surfaces at the next submit
/// or at drain (the quantizer then abandons the temporary file).
final class WriteBehindTests: XCTestCase {
    struct DiskFull: Error {}

    func testOrderAndErrors() throws {
        let w = WriteBehind()
        let lock = NSLock()
        var order: [Int] = []
        for i in 0..<50 { try w.submit { usleep(100); lock.withLock { order.append(i) } } }
        try w.drain()
        XCTAssertEqual(order, Array(0..<50))

        let failing = WriteBehind()
        try failing.submit { throw DiskFull() }
        XCTAssertThrowsError(try failing.drain()) { XCTAssertTrue($0 is DiskFull) }
        XCTAssertThrowsError(try failing.submit {}) { XCTAssertTrue($0 is DiskFull) }
    }
}
