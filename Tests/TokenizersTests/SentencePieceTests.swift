import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Tokenizers

/// Mistral's SentencePiece tokenizers against sentencepiece / mistral_common's ids
/// (Tests/Fixtures/tokenizers/vectors.json, copied from ../shared).
final class SentencePieceTests: XCTestCase {
    struct Vector: Decodable { let text: String; let ids: [Int] }
    struct Vectors: Decodable { let vectors: [String: [Vector]] }

    func check(model: String, vectors key: String) throws {
        let bytes = readBytes(Fixtures.root.appendingPathComponent("tokenizers/\(model)").path)
        let tok = try SentencePieceBPE(model: bytes)
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("tokenizers/vectors.json"))
        let vectors = try XCTUnwrap(JSONDecoder().decode(Vectors.self, from: data).vectors[key])
        XCTAssertGreaterThan(vectors.count, 15)
        for v in vectors {
            XCTAssertEqual(tok.encode(v.text), v.ids, "\(model): \(v.text.debugDescription)")
            XCTAssertEqual(tok.decode(v.ids), v.text, "\(model) decode: \(v.text.debugDescription)")
        }
    }

    func testMistralV1() throws {
        try check(model: "tokenizer.model.v1", vectors: "mistral-v1-sentencepiece (tokenizer.model.v1)")
    }

    func testMistralV3() throws {
        try check(model: "mistral_instruct_tokenizer_240323.model.v3", vectors: "mistral-v3-sentencepiece (mistral_instruct_tokenizer_240323.model.v3)")
    }

    func testTruncatedModelIsAnError() {
        let bytes = readBytes(Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path)
        for cut in [1, 100, bytes.count / 2] {
            XCTAssertThrowsError(try SentencePieceBPE(model: Array(bytes[0..<cut])), "cut \(cut)")
        }
    }
}
