import Foundation
import TestSupport
import XCTest
@testable import TensorCore

final class AtomicOutputFileTests: XCTestCase {
    func testCommitReplacesDestination() throws {
        let dir = TempDir()
        let dest = dir.write("out.bin", [1, 2, 3])
        let f = try AtomicOutputFile(destination: dest, replacing: true)
        try ([9, 9] as [UInt8]).withUnsafeBytes { try f.write($0) }
        XCTAssertEqual(readBytes(dest), [1, 2, 3], "destination untouched before commit")
        try f.commit()
        XCTAssertEqual(readBytes(dest), [9, 9])
        XCTAssertEqual(dir.contents(), ["out.bin"])
    }

    /// A full disk: write(2) fails with ENOSPC part-way. The error names the destination and
    /// the cause, the old file is intact, and no temporary is left behind — with plain writes
    /// (the error comes from a `write`) and with direct I/O (the staged bytes reach the disk
    /// at `commit`, so that is where it comes from).
    func testFullDiskLosesNothing() throws {
        for direct in [false, true] {
            let dir = TempDir()
            let dest = dir.write("model.tmt", Array("previous model".utf8))
            var budget = 100
            let f = try AtomicOutputFile(destination: dest, replacing: true, write: { fd, p, n in
                if budget <= 0 { errno = ENOSPC; return -1 }
                let k = min(n, budget)
                budget -= k
                return Glibc.write(fd, p, k)
            }, direct: direct)
            let block = [UInt8](repeating: 7, count: 64)
            XCTAssertThrowsError(try {
                for _ in 0..<10 { try block.withUnsafeBytes { try f.write($0) } }
                try f.commit()
            }()) { e in
                guard let io = e as? IOError else { return XCTFail("\(e)") }
                XCTAssertEqual(io.errno, ENOSPC, "direct \(direct)")
                XCTAssertEqual(io.path, dest)
                XCTAssertTrue("\(io)".contains("No space left on device"), "\(io)")
            }
            XCTAssertEqual(readBytes(dest), Array("previous model".utf8))
            XCTAssertEqual(dir.contents(), ["model.tmt"], "direct \(direct)")
        }
    }

    /// Sizes around the staging buffer and the alignment: the file holds exactly the bytes
    /// written, whether the file system took direct I/O or the writer fell back.
    func testContentsExactAcrossStagingBoundaries() throws {
        let cap = DirectStaging.capacity
        for sizes in [[1], [4095, 1, 4097], [cap - 3, 10], [cap, 1], [cap + 12345], [0, 77]] {
            let dir = TempDir()
            let dest = dir.file("out.bin")
            let f = try AtomicOutputFile(destination: dest)
            var expected = [UInt8]()
            for (i, n) in sizes.enumerated() {
                let chunk = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i &* 7) }
                try chunk.withUnsafeBytes { try f.write($0) }
                expected += chunk
            }
            XCTAssertEqual(f.bytesWritten, expected.count)
            try f.commit()
            let got = readBytes(dest)
            XCTAssertEqual(got.count, expected.count, "\(sizes), direct \(f.isDirect)")
            XCTAssertTrue(got == expected, "\(sizes): contents differ (direct \(f.isDirect))")
            XCTAssertEqual(dir.contents(), ["out.bin"])
        }
    }

    /// A direct write refused (EINVAL, as from a file system without direct I/O) or cut short
    /// switches to plain writes without losing or duplicating a byte, and without padding.
    func testDirectFallbackKeepsEveryByte() throws {
        for failure in ["einval", "short"] {
            let dir = TempDir()
            let dest = dir.file("out.bin")
            var first = true
            let f = try AtomicOutputFile(destination: dest, write: { fd, p, n in
                if first {
                    first = false
                    if failure == "einval" { errno = EINVAL; return -1 }
                    return Glibc.write(fd, p, 4096)   // aligned, but short
                }
                return Glibc.write(fd, p, n)
            })
            let expected = (0..<(DirectStaging.capacity + 5000)).map { UInt8(truncatingIfNeeded: $0 % 251) }
            try expected.withUnsafeBytes { try f.write($0) }
            try f.commit()
            XCTAssertFalse(f.isDirect, failure)
            XCTAssertTrue(readBytes(dest) == expected, "\(failure): contents differ")
        }
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
