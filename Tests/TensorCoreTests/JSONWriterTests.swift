import Foundation
import XCTest
@testable import TensorCore

final class JSONWriterTests: XCTestCase {
    /// Every string GGUF vocabularies contain (byte tokens, quotes, backslashes, control
    /// characters, multi-byte UTF-8) survives Foundation's decoder unchanged.
    func testRoundTripsThroughFoundationsDecoder() throws {
        var strings = ["", "plain", "quote \" inside", "back\\slash", "slash / ok", "tab\tnew\nline\rret",
                       "\u{0}\u{1}\u{1F}\u{7F}", "Ġthe", "日本語", "🙂 emoji", "<0x0A>", "\u{2028}"]
        for b in 0..<32 { strings.append(String(UnicodeScalar(UInt8(b)))) }
        let value = JSONValue.object([
            "tokens": .array(strings.map { .string($0) }),
            "scores": .array([.double(-13.256799697875977), .double(0.5), .double(1e-5), .double(-2), .double(1e20)]),
            "types": .array([.int(1), .int(-3), .int(Int64.max)]),
            "flags": .array([.bool(true), .bool(false), .null]),
            "nested": .object(["b": .int(2), "a": .object([:]), "c": .array([])]),
        ])
        let bytes = JSONWriter.bytes(value)
        let back = try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        XCTAssertEqual(back["tokens"], value["tokens"])
        XCTAssertEqual(back["types"], value["types"])
        XCTAssertEqual(back["flags"], value["flags"])
        XCTAssertEqual(back["nested"], value["nested"])
        let scores = try XCTUnwrap(back["scores"]?.arrayValue).map { $0.doubleValue }
        XCTAssertEqual(scores, [-13.256799697875977, 0.5, 1e-5, -2, 1e20])
    }

    /// Keys sorted, no whitespace, escapes as RFC 8259 spells them.
    func testExactText() {
        let value = JSONValue.object(["b": .string("x\"y\n\u{1}"), "a": .array([.int(1), .double(2.5), .null])])
        XCTAssertEqual(String(decoding: JSONWriter.bytes(value), as: UTF8.self), #"{"a":[1,2.5,null],"b":"x\"y\n\u0001"}"#)
        XCTAssertEqual(String(decoding: JSONWriter.bytes(.double(.nan)), as: UTF8.self), "0")
    }
}
