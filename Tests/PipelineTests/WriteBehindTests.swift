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

    /// What a job holds is released before the next submit returns: the quantizer's output
    /// buffers are recycled, and one still held by a finished job would force a fresh one.
    func testJobReleasedBeforeNextSubmit() throws {
        final class Token { let gone: () -> Void; init(_ g: @escaping () -> Void) { gone = g }; deinit { gone() } }
        let w = WriteBehind()
        let lock = NSLock()
        var released = 0
        for round in 0..<200 {
            var token: Token? = Token { lock.withLock { released += 1 } }
            try w.submit { [token] in _ = token }
            token = nil
            try w.submit {}   // waits for the first job
            XCTAssertEqual(lock.withLock { released }, round + 1, "round \(round): the finished job still held its capture")
        }
        try w.drain()
    }
}
