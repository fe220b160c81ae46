import Foundation
import TestSupport
import XCTest
@testable import TensorCore

/// `OutputTarget`: what an output path may be, checked for every writer.
final class OutputTargetTests: XCTestCase {
    /// The output is an input under its own path, through a hard link, and through a symbolic
    /// link: refused, whatever `replacing` says, and the input keeps its bytes.
    func testAnInputIsNeverAnOutput() throws {
        let dir = TempDir()
        let input = dir.write("model.safetensors", [1, 2, 3])
        XCTAssertEqual(link(input, dir.file("hard")), 0)
        XCTAssertEqual(symlink(input, dir.file("soft")), 0)
        for output in [input, dir.file("hard"), dir.file("soft"), dir.path + "/./model.safetensors"] {
            for replacing in [false, true] {
                XCTAssertThrowsError(try OutputTarget(output, inputs: [dir.file("other"), input], replacing: replacing)) { e in
                    XCTAssertEqual(e as? OutputError, .isInput(path: output, input: input), "\(output)")
                    XCTAssertTrue("\(e)".contains(output) && "\(e)".contains("destroy the source"), "\(e)")
                }
            }
        }
        XCTAssertEqual(readBytes(input), [1, 2, 3])
    }

    /// A FIFO and a character device (/dev/null) are refused even with `replacing`, and stay
    /// what they were; so is a directory.
    func testOnlyARegularFileIsReplaced() throws {
        let dir = TempDir()
        let fifo = dir.file("out.tmt")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let cases: [(String, FileKind)] = [(fifo, .fifo), ("/dev/null", .characterDevice), (dir.path, .directory)]
        for (path, kind) in cases {
            XCTAssertThrowsError(try AtomicOutputFile(destination: path, replacing: true)) { e in
                XCTAssertEqual(e as? OutputError, .notRegularFile(path: path, kind: kind))
                XCTAssertTrue("\(e)".contains(path) && "\(e)".contains(kind.described), "\(e)")
            }
            XCTAssertEqual(try Syscalls.status(path)?.kind, kind, path)
        }
        XCTAssertEqual(dir.contents(), ["out.tmt"], "no temporary made")
    }

    /// An existing regular file is refused unless `replacing`; with it, it is replaced.
    func testAnExistingFileNeedsReplacing() throws {
        let dir = TempDir()
        let dest = dir.write("out.tmt", [5])
        XCTAssertThrowsError(try AtomicOutputFile(destination: dest)) { e in
            XCTAssertEqual(e as? OutputError, .exists(path: dest))
            XCTAssertTrue("\(e)".contains("--force"), "\(e)")
        }
        let f = try AtomicOutputFile(destination: dest, replacing: true)
        try ([6] as [UInt8]).withUnsafeBytes { try f.write($0) }
        try f.commit()
        XCTAssertEqual(readBytes(dest), [6])
        XCTAssertEqual(dir.contents(), ["out.tmt"])
    }

    /// The check is made again before the rename: an input or a FIFO that appeared at the
    /// destination while the file was written is not replaced, and the temporary goes.
    func testCommitChecksAgain() throws {
        let dir = TempDir()
        let dest = dir.file("out.tmt")
        let f = try AtomicOutputFile(destination: dest)
        try [1].withUnsafeBytes { try f.write($0) }
        XCTAssertEqual(mkfifo(dest, 0o644), 0)
        XCTAssertThrowsError(try f.commit()) { e in XCTAssertEqual(e as? OutputError, .notRegularFile(path: dest, kind: .fifo)) }
        XCTAssertEqual(try Syscalls.status(dest)?.kind, .fifo)
        XCTAssertEqual(dir.contents(), ["out.tmt"])
    }

    /// Temporaries of this naming left by a dead process are removed when the next file for
    /// the same destination is made; those of live processes, other names and other
    /// destinations are kept.
    func testStaleTemporariesOfDeadProcessesAreRemoved() throws {
        let dir = TempDir()
        let dead = try deadProcessID()
        let live = getppid()
        let stale = dir.write("out.tmt.tmp-\(dead)-0", [1])
        let stale2 = dir.write("out.tmt.tmp-\(dead)-3", [1])
        let kept = ["out.tmt.tmp-\(live)-0", "out.tmt.tmp-\(getpid())-7", "other.tmt.tmp-\(dead)-0",
                    "out.tmt.tmp-\(dead)-x", "out.tmt.tmp-\(dead)", "out.tmt.tmp-+\(dead)-0"]
        for k in kept { _ = dir.write(k, [2]) }
        let f = try AtomicOutputFile(destination: dir.file("out.tmt"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale2))
        f.abandon()
        XCTAssertEqual(dir.contents(), kept.sorted())
    }

    /// The id of a process that has ended (and been reaped).
    private func deadProcessID() throws -> pid_t {
        let p = try Subprocess(executable: "/bin/true", arguments: [], environment: [:],
                               stdin: nil, stdout: "/dev/null", stderr: "/dev/null")
        XCTAssertNotNil(p.wait(timeout: 60))
        XCTAssertFalse(Syscalls.processExists(p.pid))
        return p.pid
    }
}
