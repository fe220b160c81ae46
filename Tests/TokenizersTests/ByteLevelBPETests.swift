import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Tokenizers

final class ByteLevelBPETests: XCTestCase {
    struct Vector: Decodable { let text: String; let ids: [Int] }
    struct Vectors: Decodable { let vectors: [String: [Vector]] }

    static func smolTokenizer() throws -> ByteLevelBPE {
        try ByteLevelBPE(ggufMetadata: try FixtureGGUF(path: Fixtures.smolLM2()).tokenizerMetadata)
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

/// tokenizer.json files and GGUF metadata that lie about token ids: each is refused with an
/// error naming the field, before any table is sized from the number.
final class ByteLevelBPEFileTests: XCTestCase {
    func hf(_ bytes: [UInt8]) throws -> ByteLevelBPE { try bytes.withUnsafeBytes { try ByteLevelBPE(huggingFaceJSON: $0) } }

    func testBuiltFileEncodes() throws {
        let tok = try hf(HuggingFaceTokenizerBuilder.json())
        XCTAssertEqual(tok.vocabularySize, 259)
        XCTAssertEqual(tok.encode("aaab<|endoftext|>"), [256, 257, 258])
        XCTAssertEqual(tok.eosID, 258)
    }

    func testVocabIDsOutOfRange() {
        for id: Any in [Int.max, Int(Int32.max), 1 << 40, -1, 518, 1.5, 1e30, "7", NSNull()] {
            let message = assertInvalidField(#"model.vocab["a"]"#) { try hf(HuggingFaceTokenizerBuilder.json(edit: HuggingFaceTokenizerBuilder.vocab("a", id))) }
            XCTAssertTrue(message.contains("0..<518"), message)
        }
    }

    /// The hostile file of the issue: a few KB of tokenizer.json with one id of 10^8 used to
    /// allocate 10^8 token strings and types (GBs); the limit follows the tokens listed.
    func testOneHugeIDAllocatesNothing() {
        let file = HuggingFaceTokenizerBuilder.json(edit: HuggingFaceTokenizerBuilder.vocab("zz", 100_000_000))
        XCTAssertLessThan(file.count, 24_000)
        let message = assertInvalidField(#"model.vocab["zz"]"#) { try hf(file) }
        XCTAssertTrue(message.contains("100000000") && message.contains("twice the 260 tokens listed"), message)
    }

    func testHolesWithinTheLimitAreKept() throws {
        let tok = try hf(HuggingFaceTokenizerBuilder.json(edit: HuggingFaceTokenizerBuilder.vocab("zz", 400)))
        XCTAssertEqual(tok.vocabularySize, 401)
        XCTAssertEqual(tok.decode([400, 299]), "zz", "a hole decodes to nothing")
    }

    func testDuplicateIDs() {
        let message = assertInvalidField("model.vocab") { try hf(HuggingFaceTokenizerBuilder.json(edit: HuggingFaceTokenizerBuilder.vocab("zz", 256))) }
        XCTAssertTrue(message.contains("256"), message)
    }

    func testAddedTokensAndMerges() {
        for id: Any in [Int.max, 1 << 40, -1, "3"] {
            assertInvalidField("added_tokens[0].id") { try hf(HuggingFaceTokenizerBuilder.json { $0["added_tokens"] = [["id": id, "content": "<x>"]] }) }
        }
        assertInvalidField("added_tokens[0]") { try hf(HuggingFaceTokenizerBuilder.json { $0["added_tokens"] = [["id": 259]] }) }
        assertInvalidField("model.merges[1]") { try hf(HuggingFaceTokenizerBuilder.json { root in
            var model = root["model"] as? [String: Any] ?? [:]
            model["merges"] = ["a a", 5]
            root["model"] = model
        }) }
    }

    // MARK: GGUF metadata (tokenizer.ggml.*), where `TokenizerLoader` builds the GGUF tokenizer

    func gguf(_ m: [String: JSONValue]) throws -> ByteLevelBPE { try ByteLevelBPE(ggufMetadata: .object(m)) }

    func testGGUFMetadataEncodes() throws {
        let tok = try gguf(GGUFTokenizerBuilder.metadata(["tokenizer.ggml.unknown_token_id": .int(0), "tokenizer.ggml.eos_token_id": .int(257)]))
        XCTAssertEqual(tok.encode("aab"), [256, 98])
        XCTAssertEqual(tok.eosID, 257)
    }

    func testGGUFIDsOutOfRange() {
        for key in ["tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"] {
            for v: JSONValue in [.int(1 << 40), .int(-1), .int(Int64.max), .int(258), .double(1e20), .string("1")] {
                let message = assertInvalidField(key) { try gguf(GGUFTokenizerBuilder.metadata([key: v])) }
                XCTAssertTrue(message.contains("0..<258"), message)
            }
        }
    }

    func testGGUFArrays() {
        var tokens = GGUFTokenizerBuilder.metadata()["tokenizer.ggml.tokens"]?.arrayValue ?? []
        tokens[3] = .int(3)
        assertInvalidField("tokenizer.ggml.tokens[3]") { try gguf(GGUFTokenizerBuilder.metadata(["tokenizer.ggml.tokens": .array(tokens)])) }
        assertInvalidField("tokenizer.ggml.tokens") { try gguf(GGUFTokenizerBuilder.metadata(["tokenizer.ggml.tokens": .array([])])) }
        assertInvalidField("tokenizer.ggml.merges[0]") { try gguf(GGUFTokenizerBuilder.metadata(["tokenizer.ggml.merges": .array([.null])])) }
        assertInvalidField("tokenizer.ggml.merges") { try gguf(GGUFTokenizerBuilder.metadata(["tokenizer.ggml.merges": .string("a a")])) }
    }

    /// The same through a GGUF file, as `TokenizerLoader` reads one: the ids as uint64 2^40 and
    /// int32 −1 (GGUF value types 10 and 5).
    func testGGUFFileWithHostileUnknownID() throws {
        let dir = TempDir()
        for (type, value) in [(UInt32(10), UInt64(1) << 40), (UInt32(5), UInt64(UInt32(bitPattern: -1)))] {
            var b: [UInt8] = Array("GGUF".utf8)
            b.appendLE(UInt32(3)); b.appendLE(UInt64(0)); b.appendLE(UInt64(4))
            func str(_ s: String) { b.appendLE(UInt64(s.utf8.count)); b += Array(s.utf8) }
            str("tokenizer.ggml.model"); b.appendLE(UInt32(8)); str("gpt2")
            let tokens = ByteLevelBPE.byteToScalar.map { String(Character($0)) } + ["aa"]
            str("tokenizer.ggml.tokens"); b.appendLE(UInt32(9)); b.appendLE(UInt32(8)); b.appendLE(UInt64(tokens.count)); tokens.forEach(str)
            str("tokenizer.ggml.merges"); b.appendLE(UInt32(9)); b.appendLE(UInt32(8)); b.appendLE(UInt64(1)); str("a a")
            str("tokenizer.ggml.unknown_token_id"); b.appendLE(type)
            if type == 10 { b.appendLE(value) } else { b.appendLE(UInt32(truncatingIfNeeded: value)) }
            var m: [String: JSONValue] = [:]
            for (k, v) in try FixtureGGUF(path: dir.write("t\(type).gguf", b)).metadata where k.hasPrefix("tokenizer.") { m[k] = v }
            assertInvalidField("tokenizer.ggml.unknown_token_id") { try gguf(m) }
        }
    }
}
