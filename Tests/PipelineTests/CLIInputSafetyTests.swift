import Foundation
import TestSupport
import XCTest

/// Files the readers refuse before reading (`Syscalls.openForReading`), through the built
/// binary with a bounded wait: a regression would block in open(2), and the wait kills it.
final class CLIInputSafetyTests: XCTestCase {
    let cacheDir = TempDir()

    /// A copy of a tiny-mistral fixture folder, to change.
    func copyFixture(_ layout: String, into dir: TempDir) throws -> String {
        let dst = dir.file(layout)
        try FileManager.default.copyItem(atPath: Fixtures.tinyMistral(layout), toPath: dst)
        return dst
    }

    /// A FIFO where a reader expects a file — `config.json` of a folder checkpoint, a shard of
    /// a sharded one — gives an error naming it instead of blocking in open(2) forever.
    func testFIFOInputsGiveAnErrorInsteadOfHanging() throws {
        let dir = TempDir()
        let folder = try copyFixture("hf-safetensors-f32", into: dir)
        try FileManager.default.removeItem(atPath: folder + "/config.json")
        XCTAssertEqual(mkfifo(folder + "/config.json", 0o644), 0)
        let sharded = try copyFixture("hf-sharded-bf16", into: dir)
        let shard = sharded + "/model-00002-of-00003.safetensors"
        try FileManager.default.removeItem(atPath: shard)
        XCTAssertEqual(mkfifo(shard, 0o644), 0)
        for (source, fifo) in [(folder, folder + "/config.json"), (sharded, shard)] {
            for args in [["inspect", source], ["convert", source, "-o", dir.file("x.tmt")]] {
                let r = try CLIProcess.run(args, cacheDir: cacheDir.path, timeout: 60)
                XCTAssertEqual(r.status, 1, r.stderr)
                XCTAssertTrue(r.stderr.contains(fifo) && r.stderr.contains("FIFO"), r.stderr)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("x.tmt")))
    }
}
