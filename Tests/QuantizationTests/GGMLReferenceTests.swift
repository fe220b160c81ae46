import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// Reference mode reproduces gguf-py's quantizers bit for bit; search mode writes the same
/// layouts with lower error. Vectors: Tests/Fixtures/quant (random rows with outliers, zero and
/// constant blocks, and real SmolLM2 rows).
final class GGMLReferenceTests: XCTestCase {
    static let formats: [(String, DType)] = [("Q8_0", .q8_0), ("Q4_0", .q4_0), ("Q4_1", .q4_1), ("Q5_0", .q5_0), ("Q5_1", .q5_1)]

    func vectors(_ file: String) throws -> (input: [Float], rows: Int, columns: Int, tensors: [String: ByteRegion]) {
        let tensors = try FixtureSafetensors.read(Fixtures.quant(file))
        let out = tensors.mapValues(\.bytes)
        let shape = try XCTUnwrap(tensors["input"]).shape
        let input = try XCTUnwrap(out["input"]).withBytes { b in (0..<(b.count / 4)).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
        return (input, shape[0], shape[1], out)
    }

    func quantized(_ x: [Float], columns: Int, _ dtype: DType, _ mode: Quantize.Mode) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.count / columns * (try dtype.rowBytes(columns)))
        try x.withUnsafeBufferPointer { xs in
            try out.withUnsafeMutableBytes { try Quantize.matrix(xs, columns: columns, dtype: dtype, mode: mode, weights: nil, threads: 2, into: $0) }
        }
        return out
    }

    func rmse(_ x: [Float], _ bytes: [UInt8], _ dtype: DType, columns: Int) throws -> Double {
        var y = [Float](repeating: 0, count: x.count)
        try bytes.withUnsafeBytes { b in try y.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: dtype, into: $0, columns: columns) } }
        return (zip(x, y).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(x.count)).squareRoot()
    }

    func testReferenceModeIsBitExact() throws {
        for file in ["ggml-random.safetensors", "ggml-smollm2-rows.safetensors"] {
            let v = try vectors(file)
            for (name, dtype) in Self.formats {
                let expected = try XCTUnwrap(v.tensors["\(name).bytes"]).array
                let ours = try quantized(v.input, columns: v.columns, dtype, .reference)
                XCTAssertEqual(ours.count, expected.count, "\(file) \(name)")
                let differing = zip(ours, expected).filter { $0 != $1 }.count
                XCTAssertEqual(differing, 0, "\(file) \(name): \(differing) bytes differ from gguf-py")
            }
        }
    }

    func testSearchModeIsBetterThanReference() throws {
        for file in ["ggml-random.safetensors", "ggml-smollm2-rows.safetensors"] {
            let v = try vectors(file)
            for (name, dtype) in Self.formats {
                let ref = try rmse(v.input, quantized(v.input, columns: v.columns, dtype, .reference), dtype, columns: v.columns)
                let ours = try rmse(v.input, quantized(v.input, columns: v.columns, dtype, .search), dtype, columns: v.columns)
                XCTAssertLessThanOrEqual(ours, ref, "\(file) \(name)")
                if (dtype == .q4_0 || dtype == .q4_1) && ref > 0 {   // SmolLM2's rows were Q4_1 already: exact
                    XCTAssertLessThan(ours, ref, "\(file) \(name): search \(ours) vs reference \(ref)")
                }
            }
        }
    }

    /// Round-trip error budgets on Gaussian rows (relative RMSE), as ggml's tests hold them.
    func testRoundTripBudgets() throws {
        var s: UInt64 = 42
        let x: [Float] = (0..<(24 * 2304)).map { _ in   // whole rows of 768 and of 576
            var g: Float = 0
            for _ in 0..<6 { s = s &* 6364136223846793005 &+ 1442695040888963407; g += Float(s >> 40) / Float(1 << 24) - 0.5 }
            return g
        }
        let rms = (x.reduce(0.0) { $0 + Double($1 * $1) } / Double(x.count)).squareRoot()
        let budgets: [(DType, Double)] = [(.q8_0, 0.006), (.q6_k, 0.025), (.q5_0, 0.05), (.q5_1, 0.045), (.q4_k, 0.09), (.q4_0, 0.10), (.q4_1, 0.09)]
        // On Gaussian weights (no outliers) the search gains clearly over ggml's reference.
        for dtype in [DType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0] {
            let ref = try rmse(x, quantized(x, columns: 768, dtype, .reference), dtype, columns: 768)
            let ours = try rmse(x, quantized(x, columns: 768, dtype, .search), dtype, columns: 768)
            print("gaussian \(dtype): search/reference RMSE = \(ours / ref)")
            XCTAssertLessThan(ours, ref * (dtype == .q8_0 ? 1.0 : 0.95), "\(dtype)")
        }
        for (dtype, budget) in budgets {
            for columns in [768, 576] {   // 576 exercises the k-quant tail blocks
                let rel = try rmse(x, quantized(x, columns: columns, dtype, .search), dtype, columns: columns) / rms
                XCTAssertLessThan(rel, budget, "\(dtype) columns \(columns)")
            }
        }
    }

    func testTailRowLayout() throws {
        XCTAssertEqual(try DType.q4_k.rowBytes(576), 2 * 144 + 2 * 20)
        XCTAssertEqual(try DType.q6_k.rowBytes(576), 2 * 210 + 2 * 34)
        XCTAssertEqual(try DType.q4_k.rowBytes(4096), 16 * 144)
        XCTAssertThrowsError(try DType.q4_k.rowBytes(570))
        XCTAssertThrowsError(try DType.q4_0.rowBytes(48))
        XCTAssertEqual(try DType.q4_k.byteCount(shape: [3, 576]), 3 * 328)
    }

    func testZeroAndConstantBlocks() throws {
        for dtype in [DType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q6_k, .q5_k, .q3_k, .q2_k] {
            for value: Float in [0, 0.5, -3] {
                let x = [Float](repeating: value, count: 256)
                let err = try rmse(x, quantized(x, columns: 256, dtype, .search), dtype, columns: 256)
                XCTAssertLessThan(err, Double(abs(value)) * 0.01 + 1e-6, "\(dtype) constant \(value)")
            }
        }
    }
}
