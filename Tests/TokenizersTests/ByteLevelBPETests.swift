import Checkpoints
import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Tokenizers

final class ByteLevelBPETests: XCTestCase {
    struct Vector: Decodable { let text: String; let ids: [Int] }
    struct Vectors: Decodable { let vectors: [String: [Vector]] }

    static func smolTokenizer() throws -> ByteLevelBPE {
        let c = try Checkpoint.open(Fixtures.smolLM2())
        let file = try XCTUnwrap(c.tokenizers.first { $0.kind == "gguf-metadata" })
        return try ByteLevelBPE(ggufMetadata: try file.load().withBytes { try JSONParser.parse($0) })
    }

    func testSmolLM2MatchesTransformers() throws {
        let tok = try Self.smolTokenizer()
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("tokenizers/vectors.json"))
        let vectors = try XCTUnwrap(JSONDecoder().decode(Vectors.self, from: data).vectors["smollm2-gpt2-bpe (from the GGUF)"])
        XCTAssertGreaterThan(vectors.count, 15)
        for v in vectors {
            XCTAssertEqual(tok.encode(v.text), v.ids, v.text)
            XCTAssertEqual(tok.decode(v.ids), v.text, "decode \(v.text)")
        }
    }

    /// The same tokenizer from a Hugging Face tokenizer.json written by the `tokenizers`
    /// library (Tests/Fixtures/tokenizers/smollm2-tokenizer.json, built from the GGUF's
    /// vocabulary and merges with SmolLM2's pre-tokenizer).
    func testHuggingFaceTokenizerJSON() throws {
        let tok = try ByteRegion.mapping(Fixtures.root.appendingPathComponent("tokenizers/smollm2-tokenizer.json").path)
            .withBytes { try ByteLevelBPE(huggingFaceJSON: $0) }
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("tokenizers/vectors.json"))
        for v in try XCTUnwrap(JSONDecoder().decode(Vectors.self, from: data).vectors["smollm2-gpt2-bpe (from the GGUF)"]) {
            XCTAssertEqual(tok.encode(v.text), v.ids, v.text)
        }
        XCTAssertEqual(tok.encode("Hello world <|im_start|>x"), [19556, 905, 216, 1, 104], "ids from HF tokenizers")
    }

    func testRoundTripsHardText() throws {
        let tok = try Self.smolTokenizer()
        for text in ["  \t\n\n  x", "🙂🚀🇫🇷 e\u{301}", "日本語 中文 한국어", "<|im_start|>user\nhi<|im_end|>", "a'sb 'll 're'VE", "\u{0}\u{85}\u{A0}", ""] {
            XCTAssertEqual(tok.decode(tok.encode(text)), text, text.debugDescription)
        }
        XCTAssertEqual(tok.encode("<|im_start|>"), [1], "literal control token")
        // Canonically equal but different bytes: each keeps its own ids (no cache collision).
        XCTAssertEqual(tok.encode("caf\u{E9} cafe\u{301}"), tok.encode("caf\u{E9}") + tok.encode(" cafe\u{301}"))
        XCTAssertNotEqual(tok.encode("caf\u{E9}"), tok.encode("cafe\u{301}"))
    }
}
