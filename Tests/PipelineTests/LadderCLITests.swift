import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TestSupport
import XCTest

/// `tramontane ladder` on the tiny fixture, two rungs (one calibrated by `--imatrix auto`), as a
/// script runs it: the JSON, the files, the plot, one stderr line per step.
final class LadderCLITests: XCTestCase {
    let cacheDir = TempDir()

    /// Token ids for the tiny model (it has no tokenizer): a fixed pseudo-random sequence.
    func tokens(_ dir: TempDir, count: Int = 512) -> String {
        var state: UInt64 = 7
        let ids = (0..<count).map { _ -> Int in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % 1024)
        }
        return dir.write("eval.tokens", Array(ids.map(String.init).joined(separator: ",").utf8))
    }

    func testTwoRungsJSONAndPlot() throws {
        let dir = TempDir()
        let out = dir.file("ladder")
        let r = try CLIProcess.run(["ladder", Fixtures.tinyMistral("hf-safetensors-f32"), "--types", "q8_0,q4_0+imatrix",
                                    "--tokens", tokens(dir), "--ctx", "64", "--chunks", "2", "--out", out, "--speed-tokens", "4", "--json"],
                                   cacheDir: cacheDir.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let rows = try XCTUnwrap(json["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["type"] as? String }, ["q8_0", "q4_0+imatrix"])
        XCTAssertEqual(rows.map { $0["imatrix"] as? Bool }, [false, true])
        XCTAssertEqual(json["base_converted"] as? Bool, false, "a float source is its own base")
        XCTAssertEqual(json["tokens_scored"] as? Int, 2 * 31)
        XCTAssertEqual(json["imatrix"] as? String, out + "/imatrix.safetensors")
        for row in rows {
            for key in ["file_bytes", "bits_per_weight", "mean_rmse", "ppl", "ppl_base", "mean_kld", "p99_kld", "top1_agreement",
                        "quantize_seconds", "prompt_tokens_per_second", "tokens_per_second"] {
                XCTAssertNotNil(row[key], key)
            }
            let file = try XCTUnwrap(row["file"] as? String)
            XCTAssertEqual(row["file_bytes"] as? Int, readBytes(file).count)
        }
        // More bits, less damage.
        let bits = rows.compactMap { $0["bits_per_weight"] as? Double }, kld = rows.compactMap { $0["mean_kld"] as? Double }
        XCTAssertGreaterThan(bits[0], 8.4)
        XCTAssertLessThan(bits[1], 4.6)
        XCTAssertLessThan(kld[0], kld[1])
        XCTAssertGreaterThan(kld[0], 0)

        // The plot: well-formed, one marker per rung.
        let svg = readBytes(try XCTUnwrap(json["plot"] as? String))
        final class Count: NSObject, XMLParserDelegate {
            var points = 0
            func parser(_ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
                if attributes["class"] == "point" { points += 1 }
            }
        }
        let parser = XMLParser(data: Data(svg))
        let count = Count()
        parser.delegate = count
        XCTAssertTrue(parser.parse())
        XCTAssertEqual(count.points, 2)

        // With --json and stderr not a terminal: no progress at all. Without --json: one line per step.
        XCTAssertEqual(r.stderr, "")
        let again = try CLIProcess.run(["ladder", Fixtures.tinyMistral("hf-safetensors-f32"), "--types", "q8_0",
                                        "--tokens", tokens(dir), "--ctx", "64", "--chunks", "2", "--out", out, "--force", "--speed-tokens", "0"],
                                       cacheDir: cacheDir.path)
        XCTAssertEqual(again.status, 0, again.stderr)
        let lines = again.stderr.split(separator: "\n")
        XCTAssertEqual(lines.map { String($0.prefix(12)) }, ["ladder [1/3]", "ladder [2/3]", "ladder [3/3]"], again.stderr)
        XCTAssertTrue(again.stdout.contains("| q8_0 |"), again.stdout)
    }

    func testRefusesAnUnknownTypeAndExistingOutputs() throws {
        let dir = TempDir()
        var r = try CLIProcess.run(["ladder", Fixtures.tinyMistral("hf-safetensors-f32"), "--types", "q8_0,q9_9", "--out", dir.file("l")],
                                   cacheDir: cacheDir.path)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("q9_9") && r.stderr.contains("q4_k_m"), r.stderr)
        // A source that is not a GGUF cannot be compared with llama.cpp: said before any work.
        r = try CLIProcess.run(["ladder", Fixtures.tinyMistral("hf-safetensors-f32"), "--types", "q8_0", "--tokens", tokens(dir),
                                "--ctx", "64", "--out", dir.file("l"), "--compare-llamacpp", dir.path], cacheDir: cacheDir.path)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("needs a GGUF source"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("l/q8_0.tmt")))
        // An output that exists, without --force: refused before any rung is made.
        try FileManager.default.createDirectory(atPath: dir.file("l"), withIntermediateDirectories: true)
        _ = dir.write("l/ladder.svg", Array("<svg/>".utf8))
        r = try CLIProcess.run(["ladder", Fixtures.tinyMistral("hf-safetensors-f32"), "--types", "q8_0", "--tokens", tokens(dir),
                                "--ctx", "64", "--out", dir.file("l")], cacheDir: cacheDir.path)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("ladder.svg") && r.stderr.contains("--force"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("l/q8_0.tmt")))
    }
}

/// Progress into a pipe or a log: at most one line per step, none with --quiet.
final class ProgressLinesTests: XCTestCase {
    let cacheDir = TempDir()

    func testPipedProgressIsOneLinePerStep() throws {
        let dir = TempDir()
        let out = dir.file("m.tmt")
        var r = try CLIProcess.run(["convert", Fixtures.tinyMistral("hf-safetensors-f32"), "-o", out], cacheDir: cacheDir.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "convert: wrote \(out)\n")
        // verify used to print eleven lines, "verify: 0%" … "100%".
        r = try CLIProcess.run(["verify", out], cacheDir: cacheDir.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThanOrEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(r.stderr.contains("%"), r.stderr)
        r = try CLIProcess.run(["quantize", out, "-o", dir.file("q.tmt"), "--type", "q8_0"], cacheDir: cacheDir.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "quantize: wrote \(dir.file("q.tmt"))\n")
    }

    func testQuietPrintsNoProgress() throws {
        let dir = TempDir()
        let r = try CLIProcess.run(["convert", Fixtures.tinyMistral("hf-safetensors-f32"), "-o", dir.file("m.tmt"), "--quiet"], cacheDir: cacheDir.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        XCTAssertFalse(r.stdout.isEmpty, "the result still goes to stdout")
    }

    /// A folder with nothing readable: the message lists what was looked for and what is there.
    func testInspectOnAFolderWithoutWeightsSaysWhatItLookedFor() throws {
        let dir = TempDir()
        _ = dir.write("config.json", Array("{}".utf8))
        _ = dir.write("notes.txt", Array("hi".utf8))
        var r = try CLIProcess.run(["inspect", dir.path], cacheDir: cacheDir.path)
        XCTAssertNotEqual(r.status, 0)
        for s in [dir.path, "*.safetensors", "pytorch_model.bin", "*.pth", "*.gguf", "*.tmt", "model.safetensors.index.json", "config.json, notes.txt"] {
            XCTAssertTrue(r.stderr.contains(s), "\(s) missing from: \(r.stderr)")
        }
        let empty = TempDir()
        r = try CLIProcess.run(["inspect", empty.path], cacheDir: cacheDir.path)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("the folder is empty"), r.stderr)
    }
}
