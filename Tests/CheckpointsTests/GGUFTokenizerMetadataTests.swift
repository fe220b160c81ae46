import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

/// A GGUF's `gguf-metadata` tokenizer file, as `Checkpoint.open` gives it (long arrays deferred),
/// is the `tokenizer.*` metadata `FixtureGGUF` reads: TokenizersTests read GGUFs through the
/// latter and so test what `TokenizerLoader` is handed.
final class GGUFTokenizerMetadataTests: XCTestCase {
    func assertSame(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try Checkpoint.open(path)
        let tokenizer = try XCTUnwrap(c.tokenizers.first { $0.kind == "gguf-metadata" }, file: file, line: line)
        let opened = try tokenizer.load().withBytes { try JSONParser.parse($0) }
        XCTAssertEqual(opened, try FixtureGGUF(path: path).tokenizerMetadata, path, file: file, line: line)
    }

    /// gpt2 and llama vocabularies, short and past `GGUFFile.deferAt`.
    func testCraftedGGUFs() throws {
        let dir = TempDir()
        for model in ["gpt2", "llama"] {
            for filler in [0, GGUFFile.deferAt] {
                try assertSame(dir.write("\(model)-\(filler).gguf", GGUFBuilder.withTokenizer(model: model, filler: filler).build()))
            }
        }
    }

    func testSmolLM2() throws {
        try assertSame(try Fixtures.smolLM2())
    }
}
