import Foundation
import TestSupport
import XCTest

/// What the commands that write files may write over (`OutputTarget`), through the built
/// binary, each run with a bounded wait.
final class CLIOutputSafetyTests: XCTestCase {
    let cacheDir = TempDir()

    func run(_ args: [String]) throws -> CLIProcess.Ended { try CLIProcess.run(args, cacheDir: cacheDir.path) }

    /// A copy of a tiny-mistral fixture folder, to write into.
    func copyFixture(_ layout: String, into dir: TempDir) throws -> String {
        let dst = dir.file(layout)
        try FileManager.default.copyItem(atPath: Fixtures.tinyMistral(layout), toPath: dst)
        return dst
    }

    func assertRefused(_ r: CLIProcess.Ended, naming path: String, saying words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertNil(r.signal, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains(words), r.stderr, file: file, line: line)
    }

    /// `-o` naming an input — a `.tmt` source, the safetensors file of a folder source, a shard
    /// or the index of a sharded one, the config beside it, an imatrix or token file, and hard
    /// and symbolic links to a source — is refused with or without --force, and the source keeps
    /// its bytes.
    func testOutputThatIsAnInputIsRefused() throws {
        let dir = TempDir()
        let tmt = dir.file("base.tmt")
        XCTAssertEqual(try run(["convert", Fixtures.tinyMistral("hf-safetensors-f32"), "-o", tmt, "--codec", "raw"]).status, 0)
        XCTAssertEqual(link(tmt, dir.file("hard.tmt")), 0)
        XCTAssertEqual(symlink(tmt, dir.file("soft.tmt")), 0)
        let folder = try copyFixture("hf-safetensors-f32", into: dir)
        let sharded = try copyFixture("hf-sharded-bf16", into: dir)
        let tokens = dir.write("tokens.txt", Array((0..<64).map { String($0 * 13 % 1024) }.joined(separator: ",").utf8))

        var cases: [(args: [String], output: String, protected: String)] = []
        for force in [[], ["--force"]] {
            cases += [
                (["convert", tmt, "-o", tmt] + force, tmt, tmt),
                (["quantize", tmt, "-o", tmt, "--type", "q8_0"] + force, tmt, tmt),
                (["convert", tmt, "-o", dir.file("hard.tmt")] + force, dir.file("hard.tmt"), tmt),
                (["convert", tmt, "-o", dir.file("soft.tmt")] + force, dir.file("soft.tmt"), tmt),
                (["convert", folder, "-o", folder + "/model.safetensors"] + force, folder + "/model.safetensors", folder + "/model.safetensors"),
                (["convert", folder, "-o", folder + "/config.json"] + force, folder + "/config.json", folder + "/config.json"),
                (["convert", sharded, "-o", sharded + "/model-00002-of-00003.safetensors"] + force,
                 sharded + "/model-00002-of-00003.safetensors", sharded + "/model-00002-of-00003.safetensors"),
                (["quantize", sharded, "-o", sharded + "/model.safetensors.index.json", "--type", "q4_0"] + force,
                 sharded + "/model.safetensors.index.json", sharded + "/model.safetensors.index.json"),
                (["imatrix", tmt, "-o", tmt, "--tokens", tokens, "--ctx", "16"] + force, tmt, tmt),
                (["imatrix", tmt, "-o", tokens, "--tokens", tokens, "--ctx", "16"] + force, tokens, tokens),
            ]
        }
        for c in cases {
            let before = readBytes(c.protected)
            XCTAssertFalse(before.isEmpty, c.protected)
            let r = try run(c.args)
            assertRefused(r, naming: c.output, saying: "destroy the source")
            XCTAssertTrue(readBytes(c.protected) == before, "\(c.args): \(c.protected) changed")
        }
        // An imatrix given to quantize is an input too.
        let imatrix = dir.file("m.imatrix")
        XCTAssertEqual(try run(["imatrix", tmt, "-o", imatrix, "--tokens", tokens, "--ctx", "16"]).status, 0)
        let before = readBytes(imatrix)
        assertRefused(try run(["quantize", tmt, "-o", imatrix, "--type", "q4_0", "--imatrix", imatrix, "--force"]),
                      naming: imatrix, saying: "destroy the source")
        XCTAssertTrue(readBytes(imatrix) == before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }, [])
    }

    /// `-o` naming a FIFO or /dev/null is refused (with --force too) and leaves it what it was.
    func testNonRegularOutputIsRefused() throws {
        let dir = TempDir()
        let fifo = dir.file("out.tmt")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let source = Fixtures.tinyMistral("hf-safetensors-f32")
        for (output, kind, mode) in [(fifo, "FIFO", S_IFIFO), ("/dev/null", "character device", S_IFCHR)] {
            for args in [["convert", source, "-o", output, "--force"], ["quantize", source, "-o", output, "--type", "q8_0"]] {
                assertRefused(try run(args), naming: output, saying: kind)
                var st = stat()
                XCTAssertEqual(stat(output, &st), 0)
                XCTAssertEqual(st.st_mode & S_IFMT, mode, "\(output) is still a \(kind)")
            }
        }
        XCTAssertEqual(dir.contents(), ["out.tmt"])
    }

    /// An existing output is refused without --force (and kept), replaced with it: convert,
    /// quantize and imatrix alike.
    func testExistingOutputNeedsForce() throws {
        let dir = TempDir()
        let source = Fixtures.tinyMistral("hf-safetensors-f32")
        let tokens = dir.write("tokens.txt", Array((0..<64).map { String($0 * 7 % 1024) }.joined(separator: " ").utf8))
        let commands: [(String) -> [String]] = [
            { ["convert", source, "-o", $0, "--codec", "raw"] },
            { ["quantize", source, "-o", $0, "--type", "q8_0"] },
            { ["imatrix", source, "-o", $0, "--tokens", tokens, "--ctx", "16"] },
        ]
        for (i, command) in commands.enumerated() {
            let out = dir.write("out\(i)", Array("previous".utf8))
            let refused = try run(command(out))
            assertRefused(refused, naming: out, saying: "--force")
            XCTAssertEqual(readBytes(out), Array("previous".utf8))
            let forced = try run(command(out) + ["--force"])
            XCTAssertEqual(forced.status, 0, forced.stderr)
            XCTAssertNotEqual(readBytes(out), Array("previous".utf8))
            XCTAssertGreaterThan(readBytes(out).count, 1000)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }, [])
    }
}
