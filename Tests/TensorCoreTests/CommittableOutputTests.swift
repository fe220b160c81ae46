import Foundation
import TestSupport
import XCTest
@testable import TensorCore

/// `committing`: the output is in place when the body returns, and gone (temporary included)
/// as soon as it throws, while the writer is still alive (not left to `deinit`).
final class CommittableOutputTests: XCTestCase {
    struct Stop: Error {}

    func testAFileIsCommittedOrAbandoned() throws {
        let dir = TempDir()
        let f = try AtomicOutputFile(destination: dir.file("kept.bin"))
        let n = try f.committing { () -> Int in
            try ([4, 5, 6] as [UInt8]).withUnsafeBytes { try f.write($0) }
            return 3
        }
        XCTAssertEqual(n, 3)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir.file("kept.bin"))), Data([4, 5, 6]))

        let g = try AtomicOutputFile(destination: dir.file("dropped.bin"))
        XCTAssertThrowsError(try g.committing {
            try ([1] as [UInt8]).withUnsafeBytes { try g.write($0) }
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        withExtendedLifetime(g) { XCTAssertEqual(dir.contents(), ["kept.bin"]) }
    }

    func testAFolderIsCommittedOrAbandoned() throws {
        let dir = TempDir()
        let kept = try OutputDirectory(dir.file("kept"))
        try kept.committing {
            let f = try AtomicOutputFile(target: kept.target("a.json"), direct: false)
            try ([0x7B, 0x7D] as [UInt8]).withUnsafeBytes { try f.write($0) }
            try f.commit()
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.file("kept")), ["a.json"])

        let dropped = try OutputDirectory(dir.file("dropped"))
        XCTAssertThrowsError(try dropped.committing {
            _ = try AtomicOutputFile(target: dropped.target("a.json"), direct: false)
            throw Stop()
        })
        withExtendedLifetime(dropped) { XCTAssertEqual(dir.contents(), ["kept"]) }
    }
}
