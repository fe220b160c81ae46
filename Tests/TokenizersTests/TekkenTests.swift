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
        let tok = try ByteRegion.mapping(Fixtures.tekken()).withBytes { try Tekken(json: $0) }
        XCTAssertTrue(tok.knownPattern)
        var texts = ["", " ", "a", "Hello  world\n\n", "  \t\n x", "ABCdef GHI jklMNO", "日本語のテキスト", "e\u{301}té Ünïcödé ÉCOLE",
                     "x = a/b//c\n/\r\n", "1,000.50$ and 2024-12-06", "🙂🚀 🇫🇷!!", "  trailing   ", "\u{0301}mark first", "tab\tsep\u{A0}nbsp"]
        texts.append(String(decoding: readBytes(Fixtures.packageRoot.appendingPathComponent("formats/eval/default.txt").path), as: UTF8.self))
        for t in texts {
            XCTAssertEqual(tok.scannerPieces(t), tok.regexPieces(t), t.prefix(40).debugDescription)
        }
    }
}
