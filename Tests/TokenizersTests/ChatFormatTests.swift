import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Tokenizers

final class ChatFormatTests: XCTestCase {
    func sp(_ name: String) throws -> SentencePieceBPE {
        try SentencePieceBPE(model: readBytes(Fixtures.root.appendingPathComponent("tokenizers/\(name)").path))
    }

    func testMistralFormats() throws {
        let v3 = try sp("mistral_instruct_tokenizer_240323.model.v3")
        XCTAssertEqual(ChatFormat.detect(v3), .mistralControl)
        let ids = ChatFormat.mistralControl.prompt("Hello world", system: nil, tokenizer: v3)
        XCTAssertEqual(ids, [1, 3] + v3.encode("Hello world") + [4], "<s>[INST] … [/INST] with control ids")

        let v1 = try sp("tokenizer.model.v1")
        XCTAssertEqual(ChatFormat.detect(v1), .mistralV1)
        XCTAssertEqual(ChatFormat.mistralV1.prompt("Hi", system: nil, tokenizer: v1), [1] + v1.encode("[INST] Hi [/INST]"))

        let tekken = try ByteRegion.mapping(Fixtures.tekken()).withBytes { try Tekken(json: $0) }
        XCTAssertEqual(ChatFormat.detect(tekken), .mistralControl)
        XCTAssertEqual(ChatFormat.mistralControl.prompt("Hi", system: nil, tokenizer: tekken), [1, 3] + tekken.encode("Hi") + [4])
    }

    /// Whole conversations as mistral-common encodes them (scripts/fixtures/chat_vectors.py):
    /// the first turn, the answer and its EOS, then a later turn, give mistral-common's ids.
    func testConversationsMatchMistralCommon() throws {
        struct Case: Decodable { let user1, assistant, user2: String; let first_ids, answer_ids, conversation_ids: [Int] }
        struct File: Decodable { let tokenizers: [String: [Case]] }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("tokenizers/chat-vectors.json")))
        let tekken = try ByteRegion.mapping(Fixtures.tekken()).withBytes { try Tekken(json: $0) }
        let tokenizers: [String: any Tokenizer] = [
            "v1": try sp("tokenizer.model.v1"), "v3": try sp("mistral_instruct_tokenizer_240323.model.v3"), "tekken": tekken,
        ]
        XCTAssertEqual(Set(file.tokenizers.keys), Set(tokenizers.keys))
        for (name, cases) in file.tokenizers {
            let t = try XCTUnwrap(tokenizers[name])
            let format = try XCTUnwrap(ChatFormat.detect(t))
            for c in cases {
                XCTAssertEqual(format.turn(c.user1, system: nil, first: true, tokenizer: t), c.first_ids, "\(name): first turn")
                let eos = try XCTUnwrap(format.endOfTurn(t))
                let conversation = c.first_ids + c.answer_ids + [eos] + format.turn(c.user2, system: nil, first: false, tokenizer: t)
                XCTAssertEqual(conversation, c.conversation_ids, "\(name): \(c.user1) / \(c.user2)")
            }
        }
    }
}
