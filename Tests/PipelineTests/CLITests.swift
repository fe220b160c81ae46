import Foundation
import TestSupport
import XCTest

/// Runs the built `tramontane` binary as a user would, checking exit codes and the JSON keys
/// scripts rely on.
final class CLITests: XCTestCase {
    var binary: String { get throws { try CLIProcess.binary } }

    let cacheDir = TempDir()

    func run(_ args: [String]) throws -> (Int32, Data, String) {
        // Source digests are remembered in a cache of this test's own, not the user's.
        let ended = try CLIProcess.run(args, cacheDir: cacheDir.path)
        return (ended.status, Data(ended.stdout.utf8), ended.stderr)
    }

    func testInspectConvertVerifyJSON() throws {
        let dir = TempDir()
        let out = dir.file("m.tmt")
        var (code, data, err) = try run(["inspect", Fixtures.tinyMistral("hf-pytorch-f16"), "--hash", "--json"])
        XCTAssertEqual(code, 0, err)
        let inspect = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let tensors = try XCTUnwrap(inspect?["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.count, 21)
        for key in ["name", "dtype", "shape", "sha256"] { XCTAssertNotNil(tensors[0][key], key) }
        XCTAssertEqual(tensors[0]["name"] as? String, "tok_embeddings.weight")
        XCTAssertEqual(tensors[0]["shape"] as? [Int], [1024, 64])

        (code, data, err) = try run(["convert", Fixtures.tinyMistral("hf-pytorch-f16"), "-o", out, "--json"])
        XCTAssertEqual(code, 0, err)
        let convert = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        XCTAssertEqual(convert?["tensors"] as? Int, 21)

        (code, data, err) = try run(["verify", out, "--json"])
        XCTAssertEqual(code, 0, err)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["ok"] as? Bool, true)

        // Damage one byte of tensor data: verify exits non-zero and names the tensor.
        var bytes = readBytes(out)
        bytes[200] ^= 0xFF
        let bad = dir.write("bad.tmt", bytes)
        (code, data, err) = try run(["verify", bad])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("tok_embeddings.weight") && err.contains("chunk 0"), err)
    }

    /// The check: the SmolLM2 GGUF continues "The capital of France is" with the
    /// greedy text transformers produced (Tests/Fixtures/smollm2/README.json) — exactly with f32
    /// activations. With the default Q8 activations (integer kernels) the text may leave the
    /// reference at a near-tie late on; the first 16 tokens must still agree.
    func testGenerateTextFromTheGGUF() throws {
        struct Readme: Decodable { let prompt: String; let greedy_text: String }
        let readme = try JSONDecoder().decode(Readme.self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("smollm2/README.json")))
        var ids: [String: [Int]] = [:]
        for precision in ["f32", "q8"] {
            let (code, data, err) = try run(["generate", try Fixtures.smolLM2(), "--prompt", readme.prompt, "--max-tokens", "24",
                                             "--activations", precision, "--json"])
            XCTAssertEqual(code, 0, err)
            let r = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            if precision == "f32" { XCTAssertEqual(r["text"] as? String, readme.greedy_text) }
            XCTAssertEqual(r["stop_reason"] as? String, "max_tokens")
            ids[precision] = r["ids"] as? [Int]
        }
        XCTAssertEqual(ids["q8"]?.count, 24)
        XCTAssertEqual(ids["q8"]?.prefix(16), ids["f32"]?.prefix(16))
    }

    /// A short chat answer stops at the end-of-turn token; `--ignore-eos` runs on to
    /// `--max-tokens` (what a timing run needs), and the JSON carries the load and
    /// first-token times.
    func testIgnoreEOSRunsToMaxTokens() throws {
        var counts: [Int] = []
        for extra in [[], ["--ignore-eos"]] {
            let (code, data, err) = try run(["generate", try Fixtures.smolLM2(), "--chat", "--prompt", "Reply with one word: yes or no. Is water wet?",
                                             "--max-tokens", "40", "--activations", "f32", "--json"] + extra)
            XCTAssertEqual(code, 0, err)
            let r = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            XCTAssertEqual(r["stop_reason"] as? String, extra.isEmpty ? "eos" : "max_tokens")
            counts.append((r["ids"] as? [Int])?.count ?? -1)
            let load = try XCTUnwrap(r["load_seconds"] as? Double), first = try XCTUnwrap(r["first_token_seconds"] as? Double)
            XCTAssertGreaterThan(load, 0)
            XCTAssertGreaterThan(first, load)
        }
        XCTAssertLessThan(counts[0], 40)
        XCTAssertEqual(counts[1], 40)
    }

    func testBadInputGivesAClearErrorAndNonZeroExit() throws {
        let dir = TempDir()
        let junk = dir.write("junk.safetensors", [1, 2, 3])
        let (code, _, err) = try run(["inspect", junk])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("junk.safetensors"), err)
        let (code2, _, err2) = try run(["convert", Fixtures.tinyMistral("hf-safetensors-f32"), "-o", dir.file("x.tmt"), "--level", "99"])
        XCTAssertNotEqual(code2, 0)
        XCTAssertTrue(err2.contains("--level"), err2)
    }

    /// `export`: the target from the output's name or `--to`; the GGUF report as JSON; targets
    /// not built yet say so.
    func testExportCommand() throws {
        let dir = TempDir()
        let source = Fixtures.tinyMistral("native-safetensors-bf16")
        var (code, data, err) = try run(["export", source, "-o", dir.file("out.gguf"), "--json"])
        XCTAssertEqual(code, 0, err)
        let report = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        XCTAssertEqual(report?["tensors"] as? Int, 21)
        // The 5 norms are BF16 here: widened to F32 for llama.cpp.
        XCTAssertEqual(report?["copied"] as? Int, 16)
        XCTAssertEqual((report?["widened"] as? [String])?.count, 5)
        XCTAssertEqual(report?["file_type"] as? Int, 32)   // MOSTLY_BF16
        (code, _, err) = try run(["export", source, "-o", dir.file("out.bin")])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("--to"), err)
        (code, _, err) = try run(["export", source, "-o", dir.file("mlx"), "--to", "mlx", "--dtype", "bf16"])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("bf16 is refused"), err)
        (code, _, err) = try run(["export", source, "-o", dir.file("x.gguf"), "--dtype", "f16"])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("--dtype is for safetensors and mlx"), err)
        (code, _, err) = try run(["export", source, "-o", dir.file("out.gguf")])
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("--force"), err)
    }
}
