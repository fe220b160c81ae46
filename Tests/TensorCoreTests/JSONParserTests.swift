import XCTest
@testable import TensorCore

final class JSONParserTests: XCTestCase {
    func testParsesValues() throws {
        let v = try JSONParser.parse(#"{"a": [1, -2.5, "x\u00e9\ud83d\ude00\n", true, null], "b": {}}"#)
        XCTAssertEqual(v["a"]?.arrayValue?.count, 5)
        XCTAssertEqual(v["a"]?.arrayValue?[0].intValue, 1)
        XCTAssertEqual(v["a"]?.arrayValue?[1].doubleValue, -2.5)
        XCTAssertEqual(v["a"]?.arrayValue?[2].stringValue, "xé😀\n")
        XCTAssertEqual(v["a"]?.arrayValue?[3].boolValue, true)
        XCTAssertEqual(v["a"]?.arrayValue?[4], .null)
    }

    func testRefusesDuplicateKeys() {
        XCTAssertThrowsError(try JSONParser.parse(#"{"t": 1, "t": 2}"#)) { e in
            XCTAssertTrue("\(e)".contains("duplicate key \"t\""), "\(e)")
        }
    }

    func testRefusesMalformedInput() {
        for bad in ["", "{", "{\"a\" 1}", "[1,]", "{\"a\":1} x", "\"unterminated", "[1, 2", "nul", "{\"a\":01x}", "\"\u{01}\""] {
            XCTAssertThrowsError(try JSONParser.parse(bad), bad) { e in XCTAssertTrue(e is JSONParseError, "\(bad): \(e)") }
        }
    }

    func testBoundsNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertThrowsError(try JSONParser.parse(deep)) { e in XCTAssertTrue("\(e)".contains("nested deeper")) }
    }
}
