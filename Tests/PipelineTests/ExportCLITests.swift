import Foundation
import TestSupport
import XCTest

/// `tramontane export` as a user runs it: the options' names, the JSON report, the refusals.
final class ExportCLITests: XCTestCase {
    let cacheDir = TempDir()

    func run(_ args: [String]) throws -> CLIProcess.Ended { try CLIProcess.run(args, cacheDir: cacheDir.path) }

    func testExportSafetensorsAndMLXFromTheCommandLine() throws {
        let dir = TempDir()
        let tmt = dir.file("m.tmt")
        var r = try run(["quantize", Fixtures.tinyMistral("native-safetensors-bf16"), "-o", tmt, "--type", "q4_1", "--no-source-hash"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try run(["export", tmt, "-o", dir.file("hf"), "--to", "safetensors", "--layout", "hf", "--dtype", "f16", "--shard-size", "100KB", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let st = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(st["layout"] as? String, "hf")
        XCTAssertEqual(st["dtype"] as? String, "f16")
        XCTAssertTrue((st["files"] as? [String])?.contains("model.safetensors.index.json") ?? false)
        XCTAssertEqual((st["dequantized"] as? [String])?.count, 16)
        r = try run(["export", tmt, "-o", dir.file("mlx"), "--to", "mlx", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let mlx = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(mlx["exact"] as? [String: Int], ["q4_1": 16])
        XCTAssertEqual(mlx["group_size"] as? Int, 32)
        // Refusals: an existing folder without --force, bf16 MLX scales, a bad shard size.
        r = try run(["export", tmt, "-o", dir.file("mlx"), "--to", "mlx"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--force"), r.stderr)
        r = try run(["export", tmt, "-o", dir.file("x"), "--to", "mlx", "--dtype", "bf16"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("bf16"), r.stderr)
        r = try run(["export", tmt, "-o", dir.file("y"), "--to", "safetensors", "--shard-size", "lots"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("x")))
    }
}
