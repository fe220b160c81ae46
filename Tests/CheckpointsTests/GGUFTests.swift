import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

final class GGUFTests: XCTestCase {
    let dir = TempDir()

    /// A minimal GGUF v3: one string KV, one u32 array KV, one F32 tensor of 4 values.
    func gguf(arrayCount: UInt64 = 2, tensorOffset: UInt64 = 0, version: UInt32 = 3, dims: [UInt64] = [4]) -> [UInt8] {
        var b: [UInt8] = Array("GGUF".utf8)
        b.appendLE(version); b.appendLE(UInt64(1)); b.appendLE(UInt64(2))
        func str(_ s: String) { b.appendLE(UInt64(s.utf8.count)); b += Array(s.utf8) }
        str("general.architecture"); b.appendLE(UInt32(8)); str("llama")
        str("tokenizer.ggml.token_type"); b.appendLE(UInt32(9)); b.appendLE(UInt32(4)); b.appendLE(arrayCount); b.appendLE(UInt32(1)); b.appendLE(UInt32(2))
        str("token_embd.weight"); b.appendLE(UInt32(dims.count)); for d in dims { b.appendLE(d) }; b.appendLE(UInt32(0)); b.appendLE(tensorOffset)
        while b.count % 32 != 0 { b.append(0) }
        for v: Float in [1, 2, 3, 4] { b.appendLE(v.bitPattern) }
        return b
    }

    func read(_ bytes: [UInt8]) throws -> GGUFFile { try GGUFFile(MappedFile(path: dir.write("m-\(UUID().uuidString).gguf", bytes))) }

    func testReadsMetadataAndTensors() throws {
        let g = try read(gguf())
        XCTAssertEqual(g.value("general.architecture")?.stringValue, "llama")
        XCTAssertEqual(g.value("tokenizer.ggml.token_type")?.arrayValue?.count, 2)
        XCTAssertEqual(g.tensors.first?.shape, [4])
        XCTAssertEqual(try g.tensors[0].load().count, 16)
    }

    func testTruncatedAtManyOffsets() {
        let good = gguf()
        for cut in [0, 3, 4, 8, 20, 40, 60, 90, good.count - 16, good.count - 1] {
            XCTAssertThrowsError(try read(Array(good[0..<cut])), "cut \(cut)") { e in
                guard let c = e as? CheckpointError else { return XCTFail("cut \(cut): \(e)") }
                switch c {
                case .truncated, .unrecognizedFormat, .invalidHeader: break
                default: XCTFail("cut \(cut): \(c)")
                }
            }
        }
    }

    func testLyingCountsDoNotAllocateOrCrash() {
        XCTAssertThrowsError(try read(gguf(arrayCount: UInt64.max / 2))) { e in
            guard case .some(.truncated) = e as? CheckpointError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try read(gguf(tensorOffset: 1 << 40))) { e in XCTAssertNotNil(e as? CheckpointError, "\(e)") }
        XCTAssertThrowsError(try read(gguf(version: 9))) { e in
            guard case .some(.invalidHeader(_, let d)) = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertTrue(d.contains("version 9"))
        }
        XCTAssertThrowsError(try read(gguf(dims: [UInt64(1) << 40, 1 << 40]))) { e in XCTAssertNotNil(e as? CheckpointError, "\(e)") }
    }

    /// Long arrays (a tokenizer's tokens, types and merges) are walked and checked with the
    /// header but converted only when asked for: the values are those of an eager read, the
    /// count needs no conversion, and a long array cut short or lying about a string's length is
    /// refused when the file is opened, not later.
    func testLongArraysAreDeferredButCheckedAtOpen() throws {
        let n = GGUFFile.deferAt + 5
        let tokens = (0..<n).map { "tok\($0)é" }
        func file(cutLastString: Bool = false, lieAboutLength: Bool = false) -> [UInt8] {
            var b: [UInt8] = Array("GGUF".utf8)
            b.appendLE(UInt32(3)); b.appendLE(UInt64(0)); b.appendLE(UInt64(3))
            func str(_ s: String) { b.appendLE(UInt64(s.utf8.count)); b += Array(s.utf8) }
            str("general.architecture"); b.appendLE(UInt32(8)); str("llama")
            str("tokenizer.ggml.scores"); b.appendLE(UInt32(9)); b.appendLE(UInt32(6)); b.appendLE(UInt64(n))
            for i in 0..<n { b.appendLE((Float(i) * 0.5).bitPattern) }
            str("tokenizer.ggml.tokens"); b.appendLE(UInt32(9)); b.appendLE(UInt32(8)); b.appendLE(UInt64(n))
            for (i, t) in tokens.enumerated() {
                if i == n - 1 && lieAboutLength { b.appendLE(UInt64(1 << 40)); continue }
                str(t)
            }
            if cutLastString { b.removeLast(2) }
            return b
        }
        let g = try read(file())
        XCTAssertEqual(g.keys, ["general.architecture", "tokenizer.ggml.scores", "tokenizer.ggml.tokens"])
        XCTAssertEqual(g.arrayCount("tokenizer.ggml.tokens"), n)
        XCTAssertEqual(g.value("tokenizer.ggml.tokens")?.arrayValue?.compactMap(\.stringValue), tokens)
        XCTAssertEqual(g.value("tokenizer.ggml.scores")?.arrayValue?[7].doubleValue, 3.5)
        XCTAssertEqual(g.metadata.map(\.key), g.keys)
        for bad in [file(cutLastString: true), file(lieAboutLength: true)] {
            XCTAssertThrowsError(try read(bad)) { e in
                guard case .some(.truncated) = e as? CheckpointError else { return XCTFail("\(e)") }
            }
        }
    }
}
