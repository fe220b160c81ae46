import Checkpoints
import Foundation
import TensorCore
import TestSupport
import Tokenizers
import XCTest
@testable import Pipeline

/// The tokenizer.json an export writes from GGUF metadata tokenizes as the GGUF tokenizer does
/// (Hugging Face's `tokenizers` on the same file gives the same ids too: Benchmarks/README.md
/// "Export").
final class ExportTokenizerTests: XCTestCase {
    func testSmolLM2GGUFTokenizerBecomesAnEquivalentTokenizerJSON() throws {
        let gguf = try Fixtures.smolLM2()
        let file = try XCTUnwrap(try Checkpoint.open(gguf).tokenizers.first { $0.kind == "gguf-metadata" })
        let meta = try file.load().withBytes { try JSONParser.parse($0) }
        let (json, config) = try ExportTokenizer.huggingFace(fromGGUF: meta)
        let exported = try JSONWriter.bytes(json).withUnsafeBytes { try ByteLevelBPE(huggingFaceJSON: $0) }
        let original = try ByteLevelBPE(ggufMetadata: meta)
        let text = TokenizerLoader.defaultEvaluationText + " 12345 <|im_start|>user\nHi<|im_end|>"
        let ids = original.encode(text)
        XCTAssertGreaterThan(ids.count, 1000)
        XCTAssertEqual(exported.encode(text), ids)
        XCTAssertEqual(exported.decode(ids), original.decode(ids))
        XCTAssertEqual(exported.vocabularySize, original.vocabularySize)
        XCTAssertEqual(json["pre_tokenizer"]?["type"]?.stringValue, "Sequence", "SmolLM2 splits digits one by one")
        XCTAssertEqual(config["eos_token"]?.stringValue, "<|im_end|>")
        XCTAssertNotNil(config["chat_template"]?.stringValue)
    }
}
