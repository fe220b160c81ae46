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
}
