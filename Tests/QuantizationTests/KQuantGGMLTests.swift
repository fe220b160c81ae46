import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// Q5_K, Q3_K and Q2_K against llama.cpp's own code (Tests/Fixtures/quant/ggml-kquants.safetensors,
/// made by scripts/fixtures/kquants.py from ggml-quants.c and gguf-py): decoding bit for bit,
/// the reference quantizer byte for byte, the search never worse than the reference on weighted
/// error and level with ggml's importance-weighted search (`quantize_q*_K`).
final class KQuantGGMLTests: XCTestCase {
    static let formats: [(String, DType)] = [("Q5_K", .q5_k), ("Q3_K", .q3_k), ("Q2_K", .q2_k)]

    func load() throws -> [String: ByteRegion] {
        try FixtureSafetensors.read(Fixtures.quant("ggml-kquants.safetensors")).mapValues(\.bytes)
    }

    func floats(_ r: ByteRegion) -> [Float] {
        r.withBytes { b in (0..<(b.count / 4)).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
    }

    func decode(_ bytes: [UInt8], _ dtype: DType, count: Int) throws -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        try bytes.withUnsafeBytes { b in try out.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: dtype, into: $0) } }
        return out
    }

    func quantized(_ x: [Float], _ dtype: DType, _ mode: Quantize.Mode, weights: [Float]? = nil) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.count / 256 * dtype.blockBytes)
        try x.withUnsafeBufferPointer { xs in
            try out.withUnsafeMutableBytes { o in
                if let weights {
                    try weights.withUnsafeBufferPointer { try Quantize.matrix(xs, columns: 256, dtype: dtype, mode: mode, weights: $0, threads: 2, into: o) }
                } else {
                    try Quantize.matrix(xs, columns: 256, dtype: dtype, mode: mode, weights: nil, threads: 2, into: o)
                }
            }
        }
        return out
    }

    func testDequantizeMatchesGGUFPyExactly() throws {
        let t = try load()
        for (name, dtype) in Self.formats {
            for (bytesKey, dequantKey) in [("\(name).bytes", "\(name).dequant"), ("\(name).random", "\(name).random.dequant")] {
                let bytes = try XCTUnwrap(t[bytesKey], bytesKey).array
                let expected = floats(try XCTUnwrap(t[dequantKey], dequantKey))
                XCTAssertEqual(bytes.count, expected.count / 256 * dtype.blockBytes)
                let got = try decode(bytes, dtype, count: expected.count)
                let differing = zip(got, expected).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(bytesKey): \(differing) of \(expected.count) values differ from gguf-py")
            }
        }
    }

    func testReferenceQuantizerIsBitExactWithGGML() throws {
        let t = try load()
        let x = floats(try XCTUnwrap(t["input"]))
        for (name, dtype) in Self.formats {
            let expected = try XCTUnwrap(t["\(name).bytes"]).array
            let ours = try quantized(x, dtype, .reference)
            XCTAssertEqual(ours.count, expected.count)
            var badBlocks: [Int] = []
            for b in 0..<(ours.count / dtype.blockBytes) where ours[(b * dtype.blockBytes)..<((b + 1) * dtype.blockBytes)] != expected[(b * dtype.blockBytes)..<((b + 1) * dtype.blockBytes)] {
                badBlocks.append(b)
            }
            XCTAssertEqual(badBlocks, [], "\(name): blocks differing from quantize_row_\(name.lowercased())_ref")
        }
    }

    /// Σ w·e² per the search's own weighting (importance · √(4σ² + x²), σ² the row's mean square).
    func weightedError(_ x: [Float], _ y: [Float], importance: [Float]?, s2Factor: Float) -> Double {
        var total = 0.0
        for r in 0..<(x.count / 256) {
            let row = x[(256 * r)..<(256 * r + 256)]
            let s2 = row.reduce(0) { $0 + $1 * $1 } / 256 * s2Factor
            for i in 0..<256 {
                let j = 256 * r + i
                let w = (s2 + x[j] * x[j]).squareRoot() * (importance?[i] ?? 1)
                total += Double(w) * Double((x[j] - y[j]) * (x[j] - y[j]))
            }
        }
        return total
    }

    func testSearchIsNeverWorseThanReferenceAndLevelWithGGMLImatrixSearch() throws {
        let t = try load()
        let x = floats(try XCTUnwrap(t["input"]))
        let imatrix = floats(try XCTUnwrap(t["imatrix"]))
        for (name, dtype) in Self.formats {
            let ref = try decode(try quantized(x, dtype, .reference), dtype, count: x.count)
            let plain = try decode(try quantized(x, dtype, .search), dtype, count: x.count)
            let eRef = weightedError(x, ref, importance: nil, s2Factor: 4), ePlain = weightedError(x, plain, importance: nil, s2Factor: 4)
            XCTAssertLessThan(ePlain, eRef, "\(name): search vs reference, no imatrix")
            // With an importance matrix, against ggml's own imatrix search (quantize_\(name)), on
            // ggml's weighting (σ² not 4σ²) as well as ours.
            let weighted = try decode(try quantized(x, dtype, .search, weights: imatrix), dtype, count: x.count)
            let ggml = try decode(try XCTUnwrap(t["\(name).imatrix.bytes"]).array, dtype, count: x.count)
            for s2Factor: Float in [4, 1] {
                let ours = weightedError(x, weighted, importance: imatrix, s2Factor: s2Factor)
                let theirs = weightedError(x, ggml, importance: imatrix, s2Factor: s2Factor)
                let refE = weightedError(x, ref, importance: imatrix, s2Factor: s2Factor)
                print("\(name) imatrix weighted error (s2 ×\(s2Factor)): search \(ours), ggml quantize_\(name) \(theirs), reference \(refE)")
                XCTAssertLessThanOrEqual(ours, refE, "\(name) search vs reference with imatrix")
                // Level with ggml's search (within 2%; formats/quant-formats.md has the figures).
                XCTAssertLessThan(ours, theirs * 1.02, "\(name) search vs ggml's imatrix search (s2 ×\(s2Factor))")
            }
        }
    }

    func testTailRows() throws {
        XCTAssertEqual(try DType.q5_k.rowBytes(576), 2 * 176 + 2 * 24)
        XCTAssertEqual(try DType.q3_k.rowBytes(576), 2 * 110 + 2 * 18)
        XCTAssertEqual(try DType.q2_k.rowBytes(576), 2 * 84 + 2 * 18)
        XCTAssertEqual(try DType.q2_k.rowBytes(4096), 16 * 84)
        XCTAssertThrowsError(try DType.q3_k.rowBytes(570))
        // A 576-wide row quantizes and decodes through its tail blocks in both modes.
        var s: UInt64 = 3
        let x: [Float] = (0..<(4 * 576)).map { _ in s = s &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: s) >> 40) / Float(1 << 23) }
        let rms = (x.reduce(0.0) { $0 + Double($1 * $1) } / Double(x.count)).squareRoot()
        for (_, dtype) in Self.formats {
            for mode in [Quantize.Mode.search, .reference] {
                var out = [UInt8](repeating: 0, count: 4 * (try dtype.rowBytes(576)))
                try x.withUnsafeBufferPointer { xs in try out.withUnsafeMutableBytes { try Quantize.matrix(xs, columns: 576, dtype: dtype, mode: mode, weights: nil, threads: 2, into: $0) } }
                var y = [Float](repeating: .nan, count: x.count)
                try out.withUnsafeBytes { b in try y.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: dtype, into: $0, columns: 576) } }
                let e = (zip(x, y).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(x.count)).squareRoot()
                let budget = [DType.q5_k: 0.05, .q3_k: 0.22, .q2_k: 0.40][dtype]!
                XCTAssertLessThan(e / rms, budget, "\(dtype) \(mode) relative RMSE on 576-wide rows")
            }
        }
    }
}
