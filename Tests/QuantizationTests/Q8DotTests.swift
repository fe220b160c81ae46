import Quantization
import TensorCore
import TestSupport
import XCTest

/// The integer kernels (weight row · Q8-quantized activation) against their scalar reference,
/// and the quantized dot product against the exact f32 one within ggml's budget
/// (`test-quantize-fns`: |error| / n ≤ 0.02), on random rows with outliers and on real
/// SmolLM2 rows.
final class Q8DotTests: XCTestCase {
    var seed: UInt64 = 17
    func random() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed) >> 40) / Float(1 << 23) }

    func testActivationRoundTripWithinHalfAStep() {
        let n = 96
        let x = (0..<n).map { i in random() * (i == 40 ? 30 : 1) }
        let a = x.withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }
        for b in 0..<3 {
            let m = x[(32 * b)..<(32 * b + 32)].map(abs).max()!
            for i in (32 * b)..<(32 * b + 32) {
                XCTAssertLessThanOrEqual(abs(a.value(i) - x[i]), m / 127 / 2 * 1.0001, "x[\(i)]")
            }
        }
    }

    /// Checks every row of `bytes` ([rows, n] in `dtype`) against x.
    func check(_ bytes: UnsafeRawBufferPointer, dtype: DType, rows: Int, n: Int, x: [Float], label: String) throws {
        let a = x.withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }
        let rb = try dtype.rowBytes(n)
        var w = [Float](repeating: 0, count: n)
        var y = [Float](repeating: 0, count: rows)
        let kernel = try XCTUnwrap(Q8Dot.kernel(dtype), "\(dtype) has an integer kernel")
        Q8Dot.matvec(bytes.baseAddress!, rowBytes: rb, rows: 0..<rows, kernel: kernel, a, into: &y)
        for r in 0..<rows {
            let row = bytes.baseAddress! + r * rb
            let fast = Q8Dot.dot(row, kernel: kernel, a)
            XCTAssertEqual(fast, y[r], "\(label) matvec and dot agree, row \(r)")
            let slow = try Q8Dot.scalarDot(row, dtype: dtype, a)
            XCTAssertEqual(fast, slow, accuracy: 2e-5 * max(1, abs(slow)), "\(label) SIMD vs scalar, row \(r)")
            try w.withUnsafeMutableBufferPointer { try Dequantize.toFloat(UnsafeRawBufferPointer(start: row, count: rb), dtype: dtype, into: $0) }
            let exact = zip(w, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertLessThanOrEqual(abs(Double(fast) - exact) / Double(n), 0.02, "\(label) dot error, row \(r)")
        }
    }

    func testKernelsOnRandomRowsWithOutliers() throws {
        let n = 576, rows = 8
        let w = (0..<(rows * n)).map { i in random() * (i % 97 == 0 ? 20 : 1) }
        let x = (0..<n).map { i in random() * (i % 131 == 0 ? 10 : 1) }
        for dtype in [DType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q6_k, .q5_k, .q3_k, .q2_k] {   // 576 columns: K-quant rows end in two tail blocks
            XCTAssertTrue(Q8Dot.supports(dtype))
            var bytes = [UInt8](repeating: 0, count: rows * (try dtype.rowBytes(n)))
            try w.withUnsafeBufferPointer { wb in
                try bytes.withUnsafeMutableBytes { try Quantize.matrix(wb, columns: n, dtype: dtype, mode: .search, weights: nil, threads: 1, into: $0) }
            }
            try bytes.withUnsafeBytes { try check($0, dtype: dtype, rows: rows, n: n, x: x, label: "\(dtype)") }
        }
        // Only those: a format without a kernel of its own gets none (it once got Q4_1's).
        XCTAssertEqual(Set(DType.allCases.filter(Q8Dot.supports)), [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q6_k, .q5_k, .q3_k, .q2_k, .iq4_nl, .iq4_xs])
    }

    /// Q5 blocks of random bytes (not only what a quantizer writes; each high bit is set in
    /// one block of a pair and clear in the other) and blocks at the extreme levels against
    /// activations at ±127 everywhere: the largest 16-bit lane sums the kernels form (2·16·127
    /// for Q5_0, 2·31·127 for Q5_1).
    func testFiveBitKernelsOnRawBlocks() throws {
        let n = 256, blocks = n / 32
        for dtype in [DType.q5_0, .q5_1] {
            let bb = dtype.blockBytes, qhAt = dtype == .q5_0 ? 2 : 4
            func block(_ bytes: inout [UInt8], _ b: Int, d: Float, m: Float, qh: UInt32, nibbles: (Int) -> UInt8) {
                bytes.withUnsafeMutableBytes { p in
                    let blk = p.baseAddress! + bb * b
                    blk.storeBytes(of: Float16(d).bitPattern.littleEndian, as: UInt16.self)
                    if dtype == .q5_1 { blk.storeBytes(of: Float16(m).bitPattern.littleEndian, toByteOffset: 2, as: UInt16.self) }
                    blk.storeBytes(of: qh.littleEndian, toByteOffset: qhAt, as: UInt32.self)
                    for j in 0..<16 { blk.storeBytes(of: nibbles(j), toByteOffset: qhAt + 4 + j, as: UInt8.self) }
                }
            }
            var raw = [UInt8](repeating: 0, count: blocks * bb)
            var qh: UInt32 = 0
            for b in 0..<blocks {
                qh = b % 2 == 0 ? UInt32(truncatingIfNeeded: seed >> 20) : ~qh
                block(&raw, b, d: 0.01 + abs(random()), m: random(), qh: qh) { _ in
                    UInt8(truncatingIfNeeded: Int(self.random() * 1e6))
                }
            }
            let x = (0..<n).map { i in random() * (i % 37 == 0 ? 8 : 1) }
            try raw.withUnsafeBytes { try check($0, dtype: dtype, rows: 1, n: n, x: x, label: "\(dtype) random bytes") }

            // Level −16 (Q5_0) or 31 (Q5_1) everywhere, against activations all at +127 or −127.
            var extreme = [UInt8](repeating: 0, count: blocks * bb)
            let high: UInt32 = dtype == .q5_0 ? 0 : 0xFFFF_FFFF, low: UInt8 = dtype == .q5_0 ? 0 : 0xFF
            for b in 0..<blocks { block(&extreme, b, d: 1, m: 0, qh: high) { _ in low } }
            for sign: Float in [1, -1] {
                let a = [Float](repeating: sign, count: n).withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }
                let kernel = try XCTUnwrap(Q8Dot.kernel(dtype))
                let level: Float = dtype == .q5_0 ? -16 : 31
                let got = extreme.withUnsafeBytes { Q8Dot.dot($0.baseAddress!, kernel: kernel, a) }
                XCTAssertEqual(got, Float(n) * level * sign, accuracy: 1e-3 * Float(n) * 31, "\(dtype) extreme levels, sign \(sign)")
                let slow = try extreme.withUnsafeBytes { try Q8Dot.scalarDot($0.baseAddress!, dtype: dtype, a) }
                XCTAssertEqual(got, slow, accuracy: 2e-5 * abs(slow), "\(dtype) extreme levels SIMD vs scalar, sign \(sign)")
            }
        }
    }

    /// Q8_0 blocks of random bytes, so levels reach −128 (which ggml's quantizer never writes,
    /// but a file may hold: the byte kernel's |w| is then 128), and levels all −128 against
    /// activations all at ±127.
    func testQ8_0KernelOnRawBlocksWithMinus128() throws {
        var rng = SeededRandom(seed: 41)
        let n = 512, blocks = n / 32
        var raw = (0..<(blocks * 34)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var extreme = [UInt8](repeating: 0x80, count: blocks * 34)
        for b in 0..<blocks {
            let h = Float16(Float.random(in: -0.1...0.1, using: &rng)).bitPattern
            raw[34 * b] = UInt8(h & 0xFF); raw[34 * b + 1] = UInt8(h >> 8)
            extreme[34 * b] = 0x00; extreme[34 * b + 1] = 0x3C   // d = 1
        }
        let kernel = try XCTUnwrap(Q8Dot.kernel(.q8_0))
        for x in [(0..<n).map { i in random() * (i % 37 == 0 ? 8 : 1) }, [Float](repeating: 1, count: n), [Float](repeating: -1, count: n)] {
            let a = x.withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }
            for row in [raw, extreme] {
                let got = row.withUnsafeBytes { Q8Dot.dot($0.baseAddress!, kernel: kernel, a) }
                let slow = try row.withUnsafeBytes { try Q8Dot.scalarDot($0.baseAddress!, dtype: .q8_0, a) }
                XCTAssertEqual(got, slow, accuracy: 2e-5 * max(1, abs(slow)), "q8_0 SIMD vs scalar")
            }
        }
    }

    /// Q3_K's sixteen 6-bit scales unpacked as vector lanes are its one-at-a-time unpacking.
    func testQ3_KScalesAtOnce() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<200 {
            let bytes = (0..<12).map { _ in UInt8.random(in: 0...255, using: &rng) }
            bytes.withUnsafeBytes { p in
                let all = BlockQ3_K.scales(p.baseAddress!)
                for j in 0..<16 { XCTAssertEqual(Int(all[j]), BlockQ3_K.scale(j, p.baseAddress!), "scale \(j) of \(bytes)") }
            }
        }
    }

    /// Q4_K, Q6_K, Q5_K, Q3_K and Q2_K super-blocks of random bytes (every scale, min, level and high bit
    /// pattern; finite f16 scales), through every kernel the format has, rows of 4 super-blocks and of 4 plus 2 tail blocks, against
    /// random activations and against activations all at ±127 (the largest lane sums).
    func testSuperBlockKernelsOnRawBlocks() throws {
        var rng = SeededRandom(seed: 33)
        for (dtype, scaleOffsets) in [(DType.q4_k, [0, 2]), (.q6_k, [208]), (.q5_k, [0, 2]), (.q3_k, [108]), (.q2_k, [80, 82])] {
            for n in [1024, 1088] {
                let rb = try dtype.rowBytes(n)
                var raw = (0..<(2 * rb)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                for r in 0..<2 {
                    for b in 0..<(n / 256) {
                        for o in scaleOffsets {
                            let h = Float16(Float.random(in: -0.1...0.1, using: &rng)).bitPattern
                            raw[r * rb + b * dtype.blockBytes + o] = UInt8(h & 0xFF); raw[r * rb + b * dtype.blockBytes + o + 1] = UInt8(h >> 8)
                        }
                    }
                    // The tail blocks' f16 scales (Q5_1: d and m; Q4_0: d) finite as well.
                    let tail = dtype.tailType!
                    for b in 0..<((n % 256) / 32) {
                        for o in ([.q5_1, .q4_1].contains(tail) ? [0, 2] : [0]) {
                            let h = Float16(Float.random(in: -0.1...0.1, using: &rng)).bitPattern
                            let at = r * rb + (n / 256) * dtype.blockBytes + b * tail.blockBytes + o
                            raw[at] = UInt8(h & 0xFF); raw[at + 1] = UInt8(h >> 8)
                        }
                    }
                }
                for x in [(0..<n).map { i in random() * (i % 37 == 0 ? 8 : 1) }, [Float](repeating: 1, count: n), [Float](repeating: -1, count: n)] {
                    let a = x.withUnsafeBufferPointer { Q8Activation($0.baseAddress!, count: n) }
                    let kernels = try XCTUnwrap(BlockFormats.format(dtype)).q8Kernels
                    XCTAssertFalse(kernels.isEmpty, "\(dtype) has no integer kernel")
                    for (v, kernel) in kernels.enumerated() {
                        for r in 0..<2 {
                            let got = raw.withUnsafeBytes { Q8Dot.dot($0.baseAddress! + r * rb, kernel: kernel, a) }
                            let slow = try raw.withUnsafeBytes { try Q8Dot.scalarDot($0.baseAddress! + r * rb, dtype: dtype, a) }
                            XCTAssertEqual(got, slow, accuracy: 2e-5 * max(1, abs(slow)), "\(dtype) kernel \(v) n \(n) row \(r) SIMD vs scalar")
                        }
                    }
                }
            }
        }
    }

    /// SmolLM2's 576-wide rows (what llama.cpp's Q4_K_M stores as Q5_0) decoded from its
    /// published GGUF and quantized to Q5_0 and Q5_1.
    func testFiveBitKernelsOnRealSmolLM2Rows() throws {
        let t = try FixtureGGUF(path: Fixtures.smolLM2()).tensor("blk.0.attn_q.weight")
        let n = try XCTUnwrap(t.shape.last), rows = 32
        XCTAssertEqual(n, 576)
        var w = [Float](repeating: 0, count: rows * n)
        try t.bytes.withBytes { b in
            try w.withUnsafeMutableBufferPointer {
                try Dequantize.toFloat(UnsafeRawBufferPointer(rebasing: b[0..<(rows * (try t.dtype.rowBytes(n)))]), dtype: t.dtype, into: $0, columns: n)
            }
        }
        let x = (0..<n).map { i in random() * (i % 131 == 0 ? 10 : 1) }
        for dtype in [DType.q5_0, .q5_1] {
            var bytes = [UInt8](repeating: 0, count: rows * (try dtype.rowBytes(n)))
            try w.withUnsafeBufferPointer { wb in
                try bytes.withUnsafeMutableBytes { try Quantize.matrix(wb, columns: n, dtype: dtype, mode: .search, weights: nil, threads: 1, into: $0) }
            }
            try bytes.withUnsafeBytes { try check($0, dtype: dtype, rows: rows, n: n, x: x, label: "\(t.name) as \(dtype)") }
        }
    }

    /// SmolLM2's published Q4_1 GGUF: the first rows of a real projection, as stored.
    func testKernelOnRealSmolLM2Rows() throws {
        let t = try FixtureGGUF(path: Fixtures.smolLM2()).tensor("blk.0.ffn_down.weight")
        XCTAssertEqual(t.dtype, .q4_1)
        let n = try XCTUnwrap(t.shape.last), rows = 16
        let x = (0..<n).map { _ in random() }
        try t.bytes.withBytes { b in
            try check(UnsafeRawBufferPointer(rebasing: b[0..<(rows * (try t.dtype.rowBytes(n)))]), dtype: t.dtype, rows: rows, n: n, x: x, label: t.name)
        }
    }
}
