import Checkpoints
import Crypto
import Foundation
import TensorCore
import TestSupport
import Tokenizers
import XCTest
@testable import Pipeline

/// The `tokenizer.*` keys an export writes for each kind of tokenizer, against what llama.cpp's
/// converter wrote (SmolLM2's GGUF) and against the tokenizer files themselves.
final class GGUFTokenizerExportTests: XCTestCase {
    func dictionary(_ keys: [(key: String, value: GGUFValue)]) -> [String: GGUFValue] {
        Dictionary(keys.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    func strings(_ v: GGUFValue?) -> [String]? {
        guard case .array(8, let a)? = v else { return nil }
        return a.compactMap { if case .string(let s) = $0 { return s }; return nil }
    }

    /// SmolLM2's Hugging Face tokenizer.json, exported, gives the tokens, token types, merges and
    /// pre-tokenizer name that llama.cpp's convert_hf_to_gguf.py wrote into SmolLM2's GGUF.
    func testHuggingFaceByteLevelBPEMatchesLlamaCppsConverter() throws {
        let gguf = try GGUFFile(MappedFile(path: try Fixtures.smolLM2()))
        let path = Fixtures.root.appendingPathComponent("tokenizers/smollm2-tokenizer.json").path
        let keys = try ByteRegion.mapping(path).withBytes { b in
            try GGUFTokenizerMetadata.fromByteLevel(try ByteLevelBPE(huggingFaceJSON: b),
                                                    pre: GGUFTokenizerMetadata.preTokenizerName(try JSONParser.parse(b)))
        }
        let d = dictionary(keys)
        XCTAssertEqual(d["tokenizer.ggml.model"], .string("gpt2"))
        XCTAssertEqual(d["tokenizer.ggml.pre"], .string(try XCTUnwrap(gguf.value("tokenizer.ggml.pre")?.stringValue)))
        XCTAssertEqual(strings(d["tokenizer.ggml.tokens"]), gguf.value("tokenizer.ggml.tokens")?.arrayValue?.compactMap(\.stringValue))
        XCTAssertEqual(strings(d["tokenizer.ggml.merges"]), gguf.value("tokenizer.ggml.merges")?.arrayValue?.compactMap(\.stringValue))
        guard case .array(5, let types)? = d["tokenizer.ggml.token_type"] else { return XCTFail("token_type is not int32") }
        XCTAssertEqual(types.map { v -> Int in if case .i32(let x) = v { return Int(x) }; return -1 },
                       gguf.value("tokenizer.ggml.token_type")?.arrayValue?.compactMap(\.intValue))
    }

    /// SentencePiece → `llama`: pieces, scores and types as the model has them, ids, flags.
    func testSentencePieceKeys() throws {
        let path = Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path
        let sp = try SentencePieceBPE(model: try ByteRegion.mapping(path).array)
        let d = dictionary(try GGUFTokenizerMetadata.fromSentencePiece(sp))
        XCTAssertEqual(d["tokenizer.ggml.model"], .string("llama"))
        XCTAssertEqual(strings(d["tokenizer.ggml.tokens"]), sp.pieces)
        XCTAssertEqual(strings(d["tokenizer.ggml.tokens"])?.count, 32000)
        XCTAssertEqual(d["tokenizer.ggml.scores"], .float32s(sp.scores))
        XCTAssertEqual(d["tokenizer.ggml.token_type"], .int32s(sp.types.map { Int32($0.rawValue) }))
        // Mistral v1: <unk> 0 (type 2), <s> 1 and </s> 2 (control, 3), byte pieces (6).
        guard case .array(_, let types)? = d["tokenizer.ggml.token_type"] else { return XCTFail() }
        XCTAssertEqual(Array(types.prefix(4)), [.i32(2), .i32(3), .i32(3), .i32(6)])
        XCTAssertEqual(d["tokenizer.ggml.bos_token_id"], .u32(1))
        XCTAssertEqual(d["tokenizer.ggml.eos_token_id"], .u32(2))
        XCTAssertEqual(d["tokenizer.ggml.unknown_token_id"], .u32(0))
        XCTAssertEqual(d["tokenizer.ggml.add_bos_token"], .bool(true))
        XCTAssertEqual(d["tokenizer.ggml.add_eos_token"], .bool(false))
    }

    func sha256(_ lines: [String]) -> String {
        SHA256.hash(data: Data(lines.joined(separator: "\n").utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// tekken → `gpt2` with `pre = tekken`: the special tokens, then each vocabulary entry's
    /// bytes in GPT-2's mapping, and the merges — the same lists, by SHA-256, as llama.cpp's
    /// gguf-py `MistralVocab` makes (Tests/Fixtures/tokenizers/tekken-gguf-vocab.json).
    func testTekkenKeys() throws {
        let tekken = try ByteRegion.mapping(try Fixtures.tekken()).withBytes { try Tekken(json: $0) }
        let d = dictionary(try GGUFTokenizerMetadata.fromTekken(tekken))
        XCTAssertEqual(d["tokenizer.ggml.model"], .string("gpt2"))
        XCTAssertEqual(d["tokenizer.ggml.pre"], .string("tekken"))
        let tokens = try XCTUnwrap(strings(d["tokenizer.ggml.tokens"]))
        XCTAssertEqual(tokens.count, 131072)
        XCTAssertEqual(Array(tokens.prefix(4)), ["<unk>", "<s>", "</s>", "[INST]"])
        // Id 1000 + b is the single byte b: "A" stands for itself, a space is GPT-2's "Ġ".
        XCTAssertEqual(tokens[1000 + 65], "A")
        XCTAssertEqual(tokens[1000 + 32], "Ġ")
        let merges = try XCTUnwrap(strings(d["tokenizer.ggml.merges"]))
        let ref = try JSONParser.parse(try TextFile.read(Fixtures.root.appendingPathComponent("tokenizers/tekken-gguf-vocab.json").path))
        XCTAssertEqual(ref["tokens"]?.intValue, tokens.count)
        XCTAssertEqual(ref["merges"]?.intValue, merges.count)
        XCTAssertEqual(ref["first_merges"]?.arrayValue?.compactMap(\.stringValue), Array(merges.prefix(8)))
        XCTAssertEqual(ref["tokens_sha256"]?.stringValue, sha256(tokens))
        XCTAssertEqual(ref["merges_sha256"]?.stringValue, sha256(merges))
        guard case .array(5, let typeValues)? = d["tokenizer.ggml.token_type"] else { return XCTFail() }
        XCTAssertEqual(ref["token_types_sha256"]?.stringValue,
                       sha256(typeValues.map { v -> String in if case .i32(let x) = v { return "\(x)" }; return "?" }))
        let known = Set(tokens)
        for m in merges.prefix(2000) {
            let parts = m.split(separator: " ", omittingEmptySubsequences: false)
            XCTAssertEqual(parts.count, 2, m)
            XCTAssertTrue(known.contains(String(parts[0])) && known.contains(String(parts[1])) && known.contains(parts.joined()), m)
        }
        guard case .array(5, let types)? = d["tokenizer.ggml.token_type"] else { return XCTFail() }
        XCTAssertEqual(types[999], .i32(3))
        XCTAssertEqual(types[1000], .i32(1))
    }

    /// A model with no tokenizer gets `none` and its config's ids; typed values from JSON keep
    /// the types the key names call for.
    func testNoTokenizerAndTypes() throws {
        let c = try Checkpoint.open(Fixtures.tinyMistral("hf-safetensors-f32"))
        let d = dictionary(try GGUFTokenizerMetadata.keys(c, config: try XCTUnwrap(c.config)))
        XCTAssertEqual(d["tokenizer.ggml.model"], .string("none"))
        XCTAssertEqual(d["tokenizer.ggml.bos_token_id"], .u32(1))
        let typed = dictionary(try GGUFTokenizerMetadata.fromGGUFMetadata(.object([
            "tokenizer.ggml.scores": .array([.double(-1.5), .int(0)]), "tokenizer.ggml.padding_token_id": .int(7),
            "tokenizer.ggml.add_bos_token": .bool(true), "tokenizer.ggml.model": .string("llama"),
        ]), file: "t"))
        XCTAssertEqual(typed["tokenizer.ggml.scores"], .float32s([-1.5, 0]))
        XCTAssertEqual(typed["tokenizer.ggml.padding_token_id"], .u32(7))
        XCTAssertEqual(typed["tokenizer.ggml.add_bos_token"], .bool(true))
        XCTAssertThrowsError(try GGUFTokenizerMetadata.fromGGUFMetadata(.object(["tokenizer.ggml.bos_token_id": .int(-1)]), file: "t"))
    }
}
