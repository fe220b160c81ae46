import Foundation
import TensorCore
import XCTest
@testable import Tokenizers

/// Writes SentencePiece `ModelProto` records (protobuf wire format), so tests can append pieces
/// to a real model or write fields no trainer would.
enum SentencePieceBuilder {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            let b = UInt8(v & 0x7F)
            v >>= 7
            out.append(v == 0 ? b : b | 0x80)
        } while v != 0
        return out
    }

    static func field(_ number: Int, bytes: [UInt8]) -> [UInt8] { varint(UInt64(number << 3 | 2)) + varint(UInt64(bytes.count)) + bytes }
    static func field(_ number: Int, varint v: UInt64) -> [UInt8] { varint(UInt64(number << 3)) + varint(v) }

    /// A `pieces` entry (ModelProto field 1): piece, score, and type as a raw varint if given.
    static func piece(_ text: String, score: Float, type: UInt64? = nil) -> [UInt8] {
        var p = field(1, bytes: Array(text.utf8))
        p += varint(2 << 3 | 5)
        withUnsafeBytes(of: score.bitPattern.littleEndian) { p += $0 }
        if let type { p += field(3, varint: type) }
        return field(1, bytes: p)
    }

    /// A `trainer_spec` (field 2) with the given model type as a raw varint (BPE is 2).
    static func trainerSpec(modelType: UInt64) -> [UInt8] { field(2, bytes: field(3, varint: modelType)) }
}

/// Writes small tekken.json files: the 256 single bytes, then `merged` tokens, under tekken's
/// pattern; `edit` changes the JSON object before it is written (to make it lie).
enum TekkenBuilder {
    static func json(merged: [String] = ["aa", "aaaa", "ab"], special: Int = 3, edit: (inout [String: Any]) -> Void = { _ in }) -> [UInt8] {
        var vocab: [[String: Any]] = (0..<256).map { ["rank": $0, "token_bytes": Data([UInt8($0)]).base64EncodedString()] }
        for (i, m) in merged.enumerated() { vocab.append(["rank": 256 + i, "token_bytes": Data(m.utf8).base64EncodedString(), "token_str": m]) }
        var root: [String: Any] = [
            "config": ["pattern": TekkenPreTokenizer.pattern, "default_vocab_size": special + vocab.count,
                       "default_num_special_tokens": special, "version": "v3"],
            "vocab": vocab,
        ]
        edit(&root)
        return (try? [UInt8](JSONSerialization.data(withJSONObject: root))) ?? []
    }

    /// Sets `config[key]`.
    static func config(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
        { root in
            var c = root["config"] as? [String: Any] ?? [:]
            c[key] = value
            root["config"] = c
        }
    }
}

extension XCTestCase {
    /// Asserts that `body` throws `TokenizerError.invalidField` naming `field`, and returns its message.
    @discardableResult
    func assertInvalidField<T>(_ field: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) -> String {
        do {
            _ = try body()
            XCTFail("no error; expected one naming \(field)", file: file, line: line)
        } catch let TokenizerError.invalidField(_, f, problem) {
            XCTAssertEqual(f, field, problem, file: file, line: line)
            return "\(f): \(problem)"
        } catch {
            XCTFail("\(error); expected an invalidField error naming \(field)", file: file, line: line)
        }
        return ""
    }
}

/// Writes small Hugging Face byte-level BPE tokenizer.json files: the 256 byte tokens (ids
/// 0…255), "aa" (256) and "ab" (257) with their merges, and `<|endoftext|>` (258) as an added
/// special token; `edit` changes the JSON object before it is written.
enum HuggingFaceTokenizerBuilder {
    static func json(edit: (inout [String: Any]) -> Void = { _ in }) -> [UInt8] {
        var vocab: [String: Any] = [:]
        for (b, s) in ByteLevelBPE.byteToScalar.enumerated() { vocab[String(Character(s))] = b }
        vocab["aa"] = 256
        vocab["ab"] = 257
        var root: [String: Any] = [
            "model": ["type": "BPE", "vocab": vocab, "merges": ["a a", ["a", "b"]]],
            "pre_tokenizer": ["type": "ByteLevel"],
            "added_tokens": [["id": 258, "content": "<|endoftext|>", "special": true]],
        ]
        edit(&root)
        return (try? [UInt8](JSONSerialization.data(withJSONObject: root))) ?? []
    }

    /// Sets `model.vocab[token]`.
    static func vocab(_ token: String, _ id: Any) -> (inout [String: Any]) -> Void {
        { root in
            var model = root["model"] as? [String: Any] ?? [:]
            var vocab = model["vocab"] as? [String: Any] ?? [:]
            vocab[token] = id
            model["vocab"] = vocab
            root["model"] = model
        }
    }
}

/// GGUF `tokenizer.ggml.*` metadata as the GGUF reader hands it over: the same vocabulary.
enum GGUFTokenizerBuilder {
    static func metadata(_ extra: [String: JSONValue] = [:]) -> [String: JSONValue] {
        var m: [String: JSONValue] = [
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.tokens": .array(ByteLevelBPE.byteToScalar.map { .string(String(Character($0))) } + [.string("aa"), .string("ab")]),
            "tokenizer.ggml.merges": .array([.string("a a"), .string("a b")]),
        ]
        m.merge(extra) { $1 }
        return m
    }
}
