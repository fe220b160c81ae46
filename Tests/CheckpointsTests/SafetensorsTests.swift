import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

/// Every malformed safetensors input gets a specific typed error, never a crash or a hang.
final class SafetensorsTests: XCTestCase {
    let dir = TempDir()

    func read(_ bytes: [UInt8]) throws -> [SourceTensor] {
        try Safetensors.read(MappedFile(path: dir.write("t-\(UUID().uuidString).safetensors", bytes))).tensors
    }

    func expect(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line, _ check: (CheckpointError) -> Bool) {
        XCTAssertThrowsError(try read(bytes), what, file: file, line: line) { e in
            guard let c = e as? CheckpointError else { return XCTFail("\(what): untyped \(e)", file: file, line: line) }
            XCTAssertTrue(check(c), "\(what): got \(c)", file: file, line: line)
        }
    }

    func testValidFileReads() throws {
        let t = try read(SafetensorsBuilder.valid([("a", [2, 2], [1, 2, 3, 4]), ("b", [1], [5])]))
        XCTAssertEqual(t.map(\.name), ["a", "b"])
        XCTAssertEqual(t[0].shape, [2, 2])
        XCTAssertEqual(try t[1].load().array, [0, 0, 0xA0, 0x40])
    }

    func testTruncatedAtSeveralOffsets() {
        let good = SafetensorsBuilder.valid([("a", [4, 4], (0..<16).map(Float.init))])
        for cut in [0, 3, 7, 8, 20, good.count - 64, good.count - 1] {
            expect(Array(good[0..<cut]), "cut at \(cut)") { if case .truncated = $0 { return true }; return false }
        }
    }

    func testLyingHeaderLength() {
        let good = SafetensorsBuilder.valid([("a", [1], [1])])
        let body = Array(good[8...])
        var huge: [UInt8] = []; huge.appendLE(UInt64(1) << 40); huge += body
        expect(huge, "2^40 header") { if case .invalidHeader(_, let d) = $0 { return d.contains("100 MB") }; return false }
        var long: [UInt8] = []; long.appendLE(UInt64(body.count + 100)); long += body
        expect(long, "past end") { if case .truncated = $0 { return true }; return false }
        var short: [UInt8] = []; short.appendLE(UInt64(5)); short += body
        expect(short, "cut JSON") { if case .invalidHeader = $0 { return true }; return false }
    }

    func testOverlapsGapsAndSizes() {
        let data = [UInt8](repeating: 0, count: 16)
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expect(SafetensorsBuilder.file(header: overlap, data: Array(data[0..<12])), "overlap") {
            if case .invalidTensor(_, "b", let d) = $0 { return d.contains("overlaps") }; return false
        }
        let gap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#
        expect(SafetensorsBuilder.file(header: gap, data: data), "gap") { if case .invalidTensor(_, "b", let d) = $0 { return d.contains("gap") }; return false }
        let wrongSize = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        expect(SafetensorsBuilder.file(header: wrongSize, data: Array(data[0..<8])), "size") { if case .invalidTensor(_, "a", let d) = $0 { return d.contains("needs 12") }; return false }
        let trailing = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        expect(SafetensorsBuilder.file(header: trailing, data: data), "trailing") { if case .invalidHeader(_, let d) = $0 { return d.contains("after the last tensor") }; return false }
        let reversed = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#
        expect(SafetensorsBuilder.file(header: reversed, data: Array(data[0..<8])), "begin > end") { if case .invalidTensor = $0 { return true }; return false }
    }

    func testShapeOverflowAndBadValues() {
        let overflow = #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#
        expect(SafetensorsBuilder.file(header: overflow, data: [UInt8](repeating: 0, count: 8)), "overflow") {
            if case .invalidTensor(_, "a", let d) = $0 { return d.contains("overflow") }; return false
        }
        let negative = #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#
        expect(SafetensorsBuilder.file(header: negative, data: [UInt8](repeating: 0, count: 8)), "negative") { if case .invalidTensor = $0 { return true }; return false }
        let dtype = #"{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#
        expect(SafetensorsBuilder.file(header: dtype, data: [0, 0]), "dtype") { $0 == .unsupportedDType(path: $0.path, tensor: "a", dtype: "F8_E4M3") }
    }

    func testDuplicateNamesAreRefused() {
        let dup = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        expect(SafetensorsBuilder.file(header: dup, data: [UInt8](repeating: 0, count: 8)), "duplicate") {
            if case .invalidHeader(_, let d) = $0 { return d.contains("duplicate key \"a\"") }; return false
        }
    }
}

extension CheckpointError {
    var path: String {
        switch self {
        case .unsupportedDType(let p, _, _), .invalidHeader(let p, _), .truncated(let p, _), .invalidTensor(let p, _, _): return p
        default: return ""
        }
    }
}
