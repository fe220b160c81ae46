import Foundation
import TestSupport
import XCTest
@testable import TensorCore

final class AtomicOutputFileTests: XCTestCase {
    func testCommitReplacesDestination() throws {
        let dir = TempDir()
        let dest = dir.write("out.bin", [1, 2, 3])
        let f = try AtomicOutputFile(destination: dest)
        try ([9, 9] as [UInt8]).withUnsafeBytes { try f.write($0) }
        XCTAssertEqual(readBytes(dest), [1, 2, 3], "destination untouched before commit")
        try f.commit()
        XCTAssertEqual(readBytes(dest), [9, 9])
        XCTAssertEqual(dir.contents(), ["out.bin"])
    }

    /// A full disk: write(2) fails with ENOSPC part-way. The error names the destination and
    /// the cause, the old file is intact, and no temporary is left behind.
    func testFullDiskLosesNothing() throws {
        let dir = TempDir()
        let dest = dir.write("model.tmt", Array("previous model".utf8))
        var budget = 100
        let f = try AtomicOutputFile(destination: dest, write: { fd, p, n in
            if budget <= 0 { errno = ENOSPC; return -1 }
            let k = min(n, budget)
            budget -= k
            return Glibc.write(fd, p, k)
        })
        let block = [UInt8](repeating: 7, count: 64)
        XCTAssertThrowsError(try { for _ in 0..<10 { try block.withUnsafeBytes { try f.write($0) } } }()) { e in
            guard let io = e as? IOError else { return XCTFail("\(e)") }
            XCTAssertEqual(io.errno, ENOSPC)
            XCTAssertEqual(io.path, dest)
            XCTAssertTrue("\(io)".contains("No space left on device"), "\(io)")
        }
        XCTAssertEqual(readBytes(dest), Array("previous model".utf8))
        XCTAssertEqual(dir.contents(), ["model.tmt"])
    }

    func testAbandonRemovesTemporary() throws {
        let dir = TempDir()
        do {
            let f = try AtomicOutputFile(destination: dir.file("x"))
            try [1].withUnsafeBytes { try f.write($0) }
        }
        XCTAssertEqual(dir.contents(), [])
    }
}
