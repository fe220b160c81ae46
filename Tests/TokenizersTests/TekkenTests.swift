import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Tokenizers

/// tekken_240911.json (fetched from mistral-common by scripts/fetch-models.sh) against
/// mistral_common's ids in Tests/Fixtures/tokenizers/vectors.json.
final class TekkenTests: XCTestCase {
    struct Vector: Decodable { let text: String; let ids: [Int] }
    struct Vectors: Decodable { let vectors: [String: [Vector]] }

    func testMatchesMistralCommon() throws {
        let tok = try ByteRegion.mapping(Fixtures.tekken()).withBytes { try Tekken(json: $0) }
        XCTAssertEqual(tok.vocabularySize, 131072)
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("tokenizers/vectors.json"))
        let vectors = try XCTUnwrap(JSONDecoder().decode(Vectors.self, from: data).vectors["mistral-tekken (tekken_240911.json)"])
        XCTAssertGreaterThan(vectors.count, 15)
        for v in vectors {
            XCTAssertEqual(tok.encode(v.text), v.ids, v.text.debugDescription)
            XCTAssertEqual(tok.decode(v.ids), v.text, "decode \(v.text.debugDescription)")
        }
    }
}

final class TekkenSplitTests: XCTestCase {
    /// The hand-written splitter against Swift's Regex running tekken's own pattern.
    func testScannerAgreesWithTheRegex() throws {
        let regex = try Regex(TekkenPreTokenizer.pattern).matchingSemantics(.unicodeScalar)
        func regexPieces(_ text: String) -> [String] { text.matches(of: regex).map { String(text[$0.range]) } }
        func scannerPieces(_ text: String) -> [String] {
            let scalars = Array(text.unicodeScalars)
            return TekkenPreTokenizer.split(scalars).map { r in var s = ""; s.unicodeScalars.append(contentsOf: scalars[r]); return s }
        }
        var texts = ["", " ", "a", "Hello  world\n\n", "  \t\n x", "ABCdef GHI jklMNO", "日本語のテキスト", "e\u{301}té Ünïcödé ÉCOLE",
                     "x = a/b//c\n/\r\n", "1,000.50$ and 2024-12-06", "🙂🚀 🇫🇷!!", "  trailing   ", "\u{0301}mark first", "tab\tsep\u{A0}nbsp"]
        texts.append(readText(Fixtures.packageRoot.appendingPathComponent("formats/eval/default.txt").path))
        for t in texts {
            XCTAssertEqual(scannerPieces(t), regexPieces(t), t.prefix(40).debugDescription)
        }
    }
}

/// tekken.json files written by `TekkenBuilder` that lie: each is refused with an error naming
/// the field, before anything is allocated from a number in it.
final class TekkenFileTests: XCTestCase {
    func tekken(_ bytes: [UInt8]) throws -> Tekken { try bytes.withUnsafeBytes { try Tekken(json: $0) } }

    func testBuiltFileEncodes() throws {
        let tok = try tekken(TekkenBuilder.json())
        XCTAssertEqual(tok.vocabularySize, 3 + 259)
        XCTAssertEqual(tok.encode("aaaaa ab"), [3 + 257, 3 + 97, 3 + 32, 3 + 258])
        XCTAssertEqual(tok.decode(tok.encode("aaaaa ab")), "aaaaa ab")
    }

    /// Swift's Regex backtracks for ever on `(a+)+$` against "aaaa…b"; the pattern is refused
    /// by comparison before any regex is built.
    func testOnlyTekkensPatternIsAccepted() {
        let message = assertInvalidField("config.pattern") { try tekken(TekkenBuilder.json(edit: TekkenBuilder.config("pattern", "(a+)+$"))) }
        XCTAssertTrue(message.contains("(a+)+$"), message)
        assertInvalidField("config.pattern") { try tekken(TekkenBuilder.json(edit: TekkenBuilder.config("pattern", #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#))) }
        assertInvalidField("config.pattern") { try tekken(TekkenBuilder.json(edit: TekkenBuilder.config("pattern", 7))) }
    }

    func testEmptyVocabulary() {
        assertInvalidField("vocab") { try tekken(TekkenBuilder.json { $0["vocab"] = [Any]() }) }
        assertInvalidField("vocab") { try tekken(TekkenBuilder.json { $0["vocab"] = "none" }) }
    }

    func testCountsOutsideInt32() {
        for key in ["default_vocab_size", "default_num_special_tokens"] {
            for v: Any in [Int.max, 1 << 40, -1, Int(Int32.max) + 1, 1.5, 1e30, "1000"] {
                assertInvalidField("config.\(key)") { try tekken(TekkenBuilder.json(edit: TekkenBuilder.config(key, v))) }
            }
            assertInvalidField("config.\(key)") { try tekken(TekkenBuilder.json { root in
                var c = root["config"] as? [String: Any] ?? [:]
                c[key] = nil
                root["config"] = c
            }) }
        }
    }

    func testVocabularySizeAgainstTheEntries() {
        // More ids than entries (mistral_common asserts vocab_size <= len(vocab) + num_special).
        assertInvalidField("config.default_vocab_size") { try tekken(TekkenBuilder.json(edit: TekkenBuilder.config("default_vocab_size", 100_000_000))) }
        // No room for the inner vocabulary, or too little for the 256 bytes.
        assertInvalidField("config.default_vocab_size") { try tekken(TekkenBuilder.json(edit: TekkenBuilder.config("default_vocab_size", 3))) }
        assertInvalidField("config.default_vocab_size") { try tekken(TekkenBuilder.json(edit: TekkenBuilder.config("default_vocab_size", 3 + 200))) }
        // A huge special block with a matching size: still refused, the vocabulary lacks the entries.
        assertInvalidField("config.default_vocab_size") { try tekken(TekkenBuilder.json { root in
            TekkenBuilder.config("default_num_special_tokens", 1 << 30)(&root)
            TekkenBuilder.config("default_vocab_size", (1 << 30) + 100_000)(&root)
        }) }
    }

    func testRanksAndBytes() {
        func editEntry(_ i: Int, _ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { root in
                var vocab = root["vocab"] as? [[String: Any]] ?? []
                vocab[i][key] = value
                root["vocab"] = vocab
            }
        }
        for r: Any in [-1, 1 << 40, Int.max, 300, "3"] {
            assertInvalidField("vocab[3].rank") { try tekken(TekkenBuilder.json(edit: editEntry(3, "rank", r))) }
        }
        assertInvalidField("vocab[65].token_bytes") { try tekken(TekkenBuilder.json(edit: editEntry(65, "token_bytes", Data("B".utf8).base64EncodedString()))) }
        assertInvalidField("vocab[257].token_bytes") { try tekken(TekkenBuilder.json(edit: editEntry(257, "token_bytes", "%%%"))) }
        assertInvalidField("vocab[257].token_bytes") { try tekken(TekkenBuilder.json(edit: editEntry(257, "token_bytes", ""))) }
        let message = assertInvalidField("vocab[258].token_bytes") { try tekken(TekkenBuilder.json(merged: ["aa", "ab", "aa"])) }
        XCTAssertTrue(message.contains("vocab[256]"), message)
    }

    func testSpecialTokenRanks() throws {
        for r: Any in [-1, 3, 1 << 40] {
            assertInvalidField("special_tokens[0].rank") { try tekken(TekkenBuilder.json { $0["special_tokens"] = [["rank": r, "token_str": "<unk>", "is_control": true]] }) }
        }
        assertInvalidField("special_tokens") { try tekken(TekkenBuilder.json { $0["special_tokens"] = (0..<4).map { ["rank": $0, "token_str": "<s\($0)>"] } }) }
        XCTAssertNoThrow(try tekken(TekkenBuilder.json { $0["special_tokens"] = (0..<3).map { ["rank": $0, "token_str": "<s\($0)>"] } }))
    }
}
