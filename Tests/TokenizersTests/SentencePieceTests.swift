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

    /// Varints that do not fit an Int (a 10-byte 2^64 − 1) used to trap in `Int(_:)`; protobuf
    /// reads int32 and enum fields as the low 32 bits, and so does the reader now. A NaN score,
    /// which orders no merge, is refused naming the piece.
    func testHostileFieldValues() throws {
        let v1 = readBytes(Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path)
        let odd = try SentencePieceBPE(model: v1 + SentencePieceBuilder.piece("zq", score: -5, type: UInt64.max))
        XCTAssertEqual(odd.types.last, .normal, "an unknown piece type is NORMAL, as in proto2")
        XCTAssertEqual(odd.encode("Hello"), try SentencePieceBPE(model: v1).encode("Hello"))
        for modelType in [UInt64.max, UInt64(1) << 40, UInt64(UInt32.max)] {
            XCTAssertThrowsError(try SentencePieceBPE(model: v1 + SentencePieceBuilder.trainerSpec(modelType: modelType))) { e in
                XCTAssertTrue("\(e)".contains("is not BPE"), "\(e)")
            }
        }
        assertInvalidField("pieces[32000].score") { try SentencePieceBPE(model: v1 + SentencePieceBuilder.piece("zq", score: .nan)) }
    }

    func testTruncatedModelIsAnError() {
        let bytes = readBytes(Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path)
        for cut in [1, 100, bytes.count / 2] {
            XCTAssertThrowsError(try SentencePieceBPE(model: Array(bytes[0..<cut])), "cut \(cut)")
        }
    }
}

/// A model with very long pieces (a protobuf allows any length): the merge table is built in
/// trie steps linear in the pieces' total length, where cutting each piece at every position and
/// looking both halves up was quadratic in a piece's length (27 s for one 20 000-character piece).
final class SentencePieceLongPieceTests: XCTestCase {
    func testMergeTableBuildIsLinearInTheVocabulary() throws {
        var bytes = readBytes(Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path)
        let q = String(repeating: "q", count: 10_000), z = String(repeating: "z", count: 10_000)
        for p in [q, z, q + z, "\u{2581}" + String(repeating: "a", count: 20_000)] {
            bytes += SentencePieceBuilder.piece(p, score: -1e9)
        }
        let tok = try SentencePieceBPE(model: bytes)
        let n = tok.pieces.count
        XCTAssertTrue(tok.pieces[n - 2] == q + z, "the appended pieces are the last ones")
        let table = SentencePieceMergeTable(pieces: tok.pieces, scores: tok.scores, types: tok.types)
        let total = tok.pieces.indices.filter { tok.types[$0] == .normal || tok.types[$0] == .userDefined }
            .reduce(0) { $0 + tok.pieces[$1].unicodeScalars.count }
        XCTAssertLessThanOrEqual(table.trieSteps, 4 * total)
        // The long concatenation is found; the long word with no two-piece cut merges from nothing.
        XCTAssertEqual(tok.merges[UInt64(n - 4) << 32 | UInt64(n - 3)]?.id, Int32(n - 2))
        XCTAssertNil(tok.merges[UInt64(n - 3) << 32 | UInt64(n - 4)], "z then q is no piece")
        XCTAssertFalse(tok.merges.values.contains { $0.id == Int32(n - 1) })
        // Mistral's own pieces give the same ids as before.
        XCTAssertEqual(tok.encode("Hello world"), try SentencePieceBPE(model: readBytes(Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path)).encode("Hello world"))
    }

    /// On Mistral's vocabularies the trie-built table is exactly the one the old build made (cut
    /// each piece at every character, look both halves up), so every input keeps its ids.
    func testTrieTableEqualsCutAndLookUpOnMistralVocabularies() throws {
        for model in ["tokenizer.model.v1", "mistral_instruct_tokenizer_240323.model.v3"] {
            let tok = try SentencePieceBPE(model: readBytes(Fixtures.root.appendingPathComponent("tokenizers/\(model)").path))
            var mergeable: [String: Int] = [:]
            for (i, p) in tok.pieces.enumerated() where (tok.types[i] == .normal || tok.types[i] == .userDefined) && mergeable[p] == nil {
                mergeable[p] = i
            }
            var merges: [UInt64: Int32] = [:]
            for (piece, id) in mergeable {
                let chars = Array(piece)
                for cut in chars.indices.dropFirst() {
                    guard let a = mergeable[String(chars[..<cut])], let b = mergeable[String(chars[cut...])] else { continue }
                    merges[UInt64(a) << 32 | UInt64(b)] = Int32(id)
                }
            }
            XCTAssertEqual(merges.count, tok.merges.count, model)
            XCTAssertTrue(merges == tok.merges.mapValues(\.id), model)
            for (k, m) in tok.merges { XCTAssertEqual(m.rank, SentencePieceMergeTable.rank(score: tok.scores[Int(m.id)]), "\(model) \(k)") }
        }
    }
}
