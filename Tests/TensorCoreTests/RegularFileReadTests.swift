import Foundation
import TestSupport
import XCTest
@testable import TensorCore

/// Every reader opens files through `Syscalls.openForReading`: a FIFO, a directory or a device
/// is refused with its path before anything could block on it.
final class RegularFileReadTests: XCTestCase {
    func testNonRegularFilesAreRefusedWithoutBlocking() throws {
        let dir = TempDir()
        let fifo = dir.file("config.json")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        for (path, kind) in [(fifo, FileKind.fifo), (dir.path, .directory), ("/dev/zero", .characterDevice)] {
            let error = try withTimeout { () -> Error? in
                do { _ = try MappedFile(path: path); return nil } catch { return error }
            }
            let io = try XCTUnwrap(error as? IOError, "\(path): \(String(describing: error))")
            XCTAssertEqual(io, .notRegularFile(path, kind: kind))
            XCTAssertTrue("\(io)".contains(path) && "\(io)".contains(kind.described), "\(io)")
            XCTAssertThrowsError(try TextFile.read(path))
        }
    }

    /// `TextFile.read` gives what Foundation's `String(contentsOfFile:encoding: .utf8)` gave:
    /// the byte-order mark dropped, CR LF kept, bytes that are not UTF-8 refused.
    func testTextFileMatchesFoundation() throws {
        let dir = TempDir()
        let cases: [[UInt8]] = [[0xEF, 0xBB, 0xBF] + Array("héllo".utf8), Array("a\r\nb".utf8), [], [0x61, 0xFF, 0x62], [0xEF, 0xBB]]
        for (i, bytes) in cases.enumerated() {
            let p = dir.write("t\(i).txt", bytes)
            let ours = try? TextFile.read(p)
            let foundation = try? String(contentsOfFile: p, encoding: .utf8)
            XCTAssertEqual(ours.map { Array($0.utf8) }, foundation.map { Array($0.utf8) }, "\(bytes)")
        }
    }

    /// Runs `body` on another thread and fails (instead of hanging the test runner) if it has
    /// not returned within 30 s.
    private func withTimeout<T: Sendable>(_ body: @escaping @Sendable () -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        // Written on the thread before `signal`, read here only after `wait` succeeds.
        nonisolated(unsafe) var result: T?
        Thread.detachNewThread { result = body(); done.signal() }
        guard done.wait(timeout: .now() + 30) == .success, let result else { throw TimedOut() }
        return result
    }

    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "the read did not return within 30 s: it blocked" }
    }
}
