import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// IQ4_NL and IQ4_XS against ggml itself (Tests/Fixtures/quant/ggml-iq4.safetensors, made by
/// scripts/fixtures/ggml_iq4.py): decoding bit for bit with gguf-py, the reference quantizer
/// byte for byte with ggml's `quantize_iq4_nl` / `quantize_iq4_xs`, the search never worse than
/// it, the Q8 kernels against their scalar twins and the dequantized product.
final class IQ4Tests: XCTestCase {
    static let formats: [(String, DType)] = [("IQ4_NL", .iq4_nl), ("IQ4_XS", .iq4_xs)]
    static let sets = ["random", "smollm2", "gaussian"]

    func fixture() throws -> [String: (shape: [Int], bytes: ByteRegion)] {
        try FixtureSafetensors.read(Fixtures.quant("ggml-iq4.safetensors")).mapValues { ($0.shape, $0.bytes) }
    }

    func floats(_ r: ByteRegion) -> [Float] {
        r.withBytes { b in (0..<(b.count / 4)).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
    }

    func quantized(_ x: [Float], columns: Int, _ dtype: DType, _ mode: Quantize.Mode, threads: Int = 2) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.count / columns * (try dtype.rowBytes(columns)))
        try x.withUnsafeBufferPointer { xs in
            try out.withUnsafeMutableBytes { try Quantize.matrix(xs, columns: columns, dtype: dtype, mode: mode, weights: nil, threads: threads, into: $0) }
        }
        return out
    }

    func decoded(_ bytes: [UInt8], _ dtype: DType, count: Int, columns: Int) throws -> [Float] {
        var y = [Float](repeating: .nan, count: count)
        try bytes.withUnsafeBytes { b in try y.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: dtype, into: $0, columns: columns) } }
        return y
    }

    func testDequantizeMatchesGGUFPyExactly() throws {
        let v = try fixture()
        for set in Self.sets + ["blocks"] {
            for (name, dtype) in Self.formats {
                let bytes = try XCTUnwrap(v["\(set).\(name).bytes"]).bytes.array
                let expected = try floats(XCTUnwrap(v["\(set).\(name).dequant"]).bytes)
                let got = try decoded(bytes, dtype, count: expected.count, columns: try XCTUnwrap(v["\(set).\(name).dequant"]).shape[1])
                let differing = zip(got, expected).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(set) \(name): \(differing) of \(expected.count) values differ from gguf-py")
            }
        }
    }

    func testReferenceModeIsBitExactWithGGML() throws {
        let v = try fixture()
        for set in Self.sets {
            let input = try XCTUnwrap(v["\(set).input"])
            let x = floats(input.bytes)
            for (name, dtype) in Self.formats {
                let expected = try XCTUnwrap(v["\(set).\(name).bytes"]).bytes.array
                let ours = try quantized(x, columns: input.shape[1], dtype, .reference)
                XCTAssertEqual(ours.count, expected.count)
                let differing = zip(ours, expected).filter { $0 != $1 }.count
                XCTAssertEqual(differing, 0, "\(set) \(name): \(differing) bytes differ from ggml's quantize_\(name.lowercased())")
            }
        }
    }

    /// Block by block, the search's weighted error (its own weighting, `RowImportance`) is at
    /// most the reference block's, and its RMSE over the set is lower.
    func testSearchIsNeverWorseThanReference() throws {
        let v = try fixture()
        for set in Self.sets {
            let input = try XCTUnwrap(v["\(set).input"])
            let x = floats(input.bytes), columns = input.shape[1], rows = x.count / columns
            for (name, dtype) in Self.formats {
                let ref = try decoded(quantized(x, columns: columns, dtype, .reference), dtype, count: x.count, columns: columns)
                let ours = try decoded(quantized(x, columns: columns, dtype, .search), dtype, count: x.count, columns: columns)
                let block = dtype.blockSize
                var worse = 0, se = (ours: 0.0, ref: 0.0)
                for r in 0..<rows {
                    var w = [Float](repeating: 0, count: columns)
                    x.withUnsafeBufferPointer { xs in
                        let row = xs.baseAddress! + r * columns
                        var s2: Float = 0
                        for j in 0..<columns { s2 += row[j] * row[j] }
                        RowImportance(s2: 4 * s2 / Float(columns), columns: nil).weights(row, columns, into: &w)
                    }
                    for b in stride(from: 0, to: columns, by: block) {
                        var eo = 0.0, er = 0.0
                        for j in (r * columns + b)..<(r * columns + b + block) {
                            let wj = Double(w[j - r * columns])
                            eo += wj * Double(x[j] - ours[j]) * Double(x[j] - ours[j])
                            er += wj * Double(x[j] - ref[j]) * Double(x[j] - ref[j])
                            se.ours += Double(x[j] - ours[j]) * Double(x[j] - ours[j])
                            se.ref += Double(x[j] - ref[j]) * Double(x[j] - ref[j])
                        }
                        if eo > er * (1 + 1e-5) + 1e-30 { worse += 1 }
                    }
                }
                XCTAssertEqual(worse, 0, "\(set) \(name): \(worse) blocks with a higher weighted error than the reference")
                print("\(set) \(name): search/reference RMSE = \((se.ours / se.ref).squareRoot())")
                XCTAssertLessThan(se.ours, se.ref, "\(set) \(name)")
            }
        }
    }

    /// IQ4_XS rows that are not a multiple of 256 end in IQ4_NL blocks: 576 = 2 × 136 + 2 × 18
    /// bytes, the tail (in reference mode) exactly as IQ4_NL quantizes those 64 weights.
    func testIQ4_XSTailIsIQ4_NL() throws {
        XCTAssertEqual(DType.iq4_xs.tailType, .iq4_nl)
        XCTAssertEqual(try DType.iq4_xs.rowBytes(576), 2 * 136 + 2 * 18)
        XCTAssertEqual(try DType.iq4_xs.rowBytes(4096), 16 * 136)
        XCTAssertThrowsError(try DType.iq4_xs.rowBytes(570))
        var rng = SeededRandom(seed: 3)
        let x = (0..<(3 * 576)).map { _ in Float.random(in: -1...1, using: &rng) }
        for mode in [Quantize.Mode.reference, .search] {
            let xs = try quantized(x, columns: 576, .iq4_xs, mode)
            // (The search weighs errors by the whole row's mean square, so only the reference's
            // bytes are the 64 weights' own.)
            for r in 0..<3 where mode == .reference {
                let tail = Array(x[(r * 576 + 512)..<(r * 576 + 576)])
                let nl = try quantized(tail, columns: 64, .iq4_nl, mode, threads: 1)
                XCTAssertEqual(Array(xs[(r * 308 + 272)..<(r * 308 + 308)]), nl, "row \(r) \(mode)")
            }
            let y = try decoded(xs, .iq4_xs, count: x.count, columns: 576)
            let rmse = (zip(x, y).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(x.count)).squareRoot()
            XCTAssertLessThan(rmse, 0.06, "\(mode)")   // uniform in ±1: Q4_0's step is 1/8
        }
    }

    func testZeroAndConstantBlocks() throws {
        for (_, dtype) in Self.formats {
            for value: Float in [0, 0.5, -3] {
                let x = [Float](repeating: value, count: 256)
                for mode in [Quantize.Mode.reference, .search] {
                    let y = try decoded(quantized(x, columns: 256, dtype, mode), dtype, count: 256, columns: 256)
                    for v in y { XCTAssertEqual(v, value, accuracy: abs(value) * 0.01 + 1e-6, "\(dtype) \(mode) constant \(value)") }
                }
            }
        }
    }

    // MARK: Q8 kernels

    func activation(_ n: Int, seed: UInt64) -> (Q8Activation, [Float]) {
        var rng = SeededRandom(seed: seed)
        let x = (0..<n).map { i in Float.random(in: -1...1, using: &rng) * (i % 131 == 0 ? 10 : 1) }
        return (x.withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }, x)
    }

    /// The SIMD kernel (vpshufb lookup) equals its scalar twin (both sum each block exactly in
    /// integers; only the float accumulation order differs) and the dequantized row times the
    /// quantized activation, on quantized rows of 576 (IQ4_XS with tails) and on random bytes.
    func testQ8KernelsAgainstScalarAndDequantized() throws {
        let n = 576, rows = 6
        var rng = SeededRandom(seed: 11)
        let w = (0..<(rows * n)).map { i in Float.random(in: -1...1, using: &rng) * (i % 97 == 0 ? 20 : 1) }
        let (a, x) = activation(n, seed: 12)
        let scalar: [DType: (UnsafeRawPointer, UnsafePointer<Q8Activation.Lanes>, UnsafePointer<Float>, Int) -> Float] = [
            .iq4_nl: BlockIQ4_NL.q8RowScalar, .iq4_xs: BlockIQ4_XS.q8RowScalar,
        ]
        for (_, dtype) in Self.formats {
            let kernel = try XCTUnwrap(Q8Dot.kernel(dtype))
            let rb = try dtype.rowBytes(n)
            var raw = try quantized(w, columns: n, dtype, .search)
            // Random bytes for the last two rows: every index pattern, scales kept finite.
            for i in (4 * rb)..<(6 * rb) { raw[i] = UInt8.random(in: 0...255, using: &rng) }
            for r in 4..<6 {
                var o = r * rb
                for _ in 0..<(n / dtype.blockSize) {
                    let h = Float16(Float.random(in: -0.1...0.1, using: &rng)).bitPattern
                    raw[o] = UInt8(h & 0xFF); raw[o + 1] = UInt8(h >> 8); o += dtype.blockBytes
                }
                while o < (r + 1) * rb {   // IQ4_NL tail blocks of an IQ4_XS row
                    let h = Float16(Float.random(in: -0.1...0.1, using: &rng)).bitPattern
                    raw[o] = UInt8(h & 0xFF); raw[o + 1] = UInt8(h >> 8); o += 18
                }
            }
            try raw.withUnsafeBytes { bytes in
                for r in 0..<rows {
                    let row = bytes.baseAddress! + r * rb
                    let fast = Q8Dot.dot(row, kernel: kernel, a)
                    let twin = a.withBuffers { l, d, _ in scalar[dtype]!(row, l, d, a.blocks) }
                    XCTAssertEqual(fast, twin, accuracy: 1e-5 * max(1, abs(twin)), "\(dtype) SIMD vs scalar twin, row \(r)")
                    let slow = try Q8Dot.scalarDot(row, dtype: dtype, a)
                    XCTAssertEqual(fast, slow, accuracy: 2e-5 * max(1, abs(slow)), "\(dtype) vs dequantized · quantized activation, row \(r)")
                    guard r < 4 else { continue }   // ggml's budget is for weights of the rows' own scale
                    let wf = try decoded(Array(UnsafeRawBufferPointer(rebasing: bytes[(r * rb)..<((r + 1) * rb)])), dtype, count: n, columns: n)
                    let exact = zip(wf, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    XCTAssertLessThanOrEqual(abs(Double(fast) - exact) / Double(n), 0.02, "\(dtype) dot error, row \(r)")
                }
            }
        }
    }

    /// The lane-wise nearest table entry (midpoint counting) equals ggml's `best_index_int8`
    /// (binary search, then `x − lo < hi − x`) around every midpoint to the ulp, at the table's
    /// ends, and on random values.
    func testNearestIsGGMLsBestIndex() {
        var xs: [Float] = [0, -0.0, -127, 113, -1e9, 1e9, -128, 114]
        for k in 1..<16 {
            var a = NonLinearSearch.midpoint(k), b = a
            for _ in 0..<40 { xs += [a, b]; a = a.nextUp; b = b.nextDown }
        }
        var rng = SeededRandom(seed: 9)
        for _ in 0..<20_000 { xs.append(Float.random(in: -300...300, using: &rng)) }
        while xs.count % 8 != 0 { xs.append(0) }
        for i in stride(from: 0, to: xs.count, by: 8) {
            let v = SIMD8<Float>(xs[i..<(i + 8)])
            let (idx, value) = NonLinearSearch.nearest(v)
            let only = NonLinearSearch.nearestValue(v)
            for l in 0..<8 {
                let expected = NonLinearSearch.bestIndex(xs[i + l])
                XCTAssertEqual(Int(idx[l]), expected, "x = \(xs[i + l])")
                XCTAssertEqual(value[l], NonLinearSearch.value(expected))
                XCTAssertEqual(only[l], value[l])
            }
        }
    }

    /// The table lookup (vpshufb on AVX2 builds) equals the portable select chain on every byte.
    func testLookupMatchesPortableForm() {
        var rng = SeededRandom(seed: 4)
        for round in 0..<64 {
            let bytes = (0..<16).map { i in round < 16 ? UInt8(round * 16 + i) : UInt8.random(in: 0...255, using: &rng) }
            bytes.withUnsafeBytes { p in
                let fast = unsafeBitCast(BlockIQ4_NL.values(p.baseAddress!), to: SIMD32<Int8>.self)
                let portable = unsafeBitCast(BlockIQ4_NL.portableValues(p.baseAddress!), to: SIMD32<Int8>.self)
                XCTAssertEqual(fast, portable)
                for j in 0..<32 {
                    let q = j < 16 ? bytes[j] & 0x0F : bytes[j - 16] >> 4
                    XCTAssertEqual(fast[j], NonLinearSearch.table[Int(q)], "byte \(j)")
                }
            }
        }
    }

    /// Every index against activations at ±127: the largest 16-bit lane sum (2·127·127) stays exact.
    func testKernelAtExtremeLevels() throws {
        let n = 256
        let x = (0..<n).map { Float($0 % 3 == 0 ? -1 : 1) }
        let a = x.withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }
        for (_, dtype) in Self.formats {
            for index in [UInt8(0), 15, 7, 8] {
                var raw = [UInt8](repeating: index | (index << 4), count: try dtype.rowBytes(n))
                var o = 0
                while o < raw.count {
                    let h = Float16(1).bitPattern
                    raw[o] = UInt8(h & 0xFF); raw[o + 1] = UInt8(h >> 8)
                    if dtype == .iq4_xs { raw[o + 2] = 0xFF; raw[o + 3] = 0xFF; for k in 4..<8 { raw[o + k] = 0xFF } }   // ls = 63: ×31
                    o += dtype.blockBytes
                }
                let fast = try raw.withUnsafeBytes { Q8Dot.dot($0.baseAddress!, kernel: try XCTUnwrap(Q8Dot.kernel(dtype)), a) }
                let slow = try raw.withUnsafeBytes { try Q8Dot.scalarDot($0.baseAddress!, dtype: dtype, a) }
                XCTAssertEqual(fast, slow, accuracy: 1e-6 * abs(slow) + 1e-3, "\(dtype) index \(index)")
            }
        }
    }
}
