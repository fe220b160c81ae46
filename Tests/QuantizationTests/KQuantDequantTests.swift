import TestSupport
import XCTest
@testable import Quantization

/// The SIMD K-quant decoders against their one-weight-at-a-time forms, bit for bit, on random
/// block bytes (every bit pattern of scales and levels is a valid block; f16 scales kept finite).
final class KQuantDequantTests: XCTestCase {
    func check(_ bytes: Int, scaleOffsets: [Int], _ simd: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void,
               _ scalar: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
        var rng = SeededRandom(seed: 21)
        for _ in 0..<500 {
            var block = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for o in scaleOffsets {   // a finite f16 in ±(2⁻⁸ … 2)
                let h = Float16(Float.random(in: -2...2, using: &rng)).bitPattern
                block[o] = UInt8(h & 0xFF); block[o + 1] = UInt8(h >> 8)
            }
            var a = [Float](repeating: .nan, count: 256), b = a
            block.withUnsafeBytes { p in
                simd(p.baseAddress!, &a)
                scalar(p.baseAddress!, &b)
            }
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
        }
    }

    func testQ6_K() { check(210, scaleOffsets: [208], { BlockQ6_K.dequantize(block: $0, into: $1) }, { BlockQ6_K.dequantizeScalar(block: $0, into: $1) }) }
    func testQ4_K() { check(144, scaleOffsets: [0, 2], { BlockQ4_K.dequantize(block: $0, into: $1) }, { BlockQ4_K.dequantizeScalar(block: $0, into: $1) }) }
    func testQ5_K() { check(176, scaleOffsets: [0, 2], { BlockQ5_K.dequantize(block: $0, into: $1) }, { BlockQ5_K.dequantizeScalar(block: $0, into: $1) }) }
    func testQ3_K() { check(110, scaleOffsets: [108], { BlockQ3_K.dequantize(block: $0, into: $1) }, { BlockQ3_K.dequantizeScalar(block: $0, into: $1) }) }
    func testQ2_K() { check(84, scaleOffsets: [80, 82], { BlockQ2_K.dequantize(block: $0, into: $1) }, { BlockQ2_K.dequantizeScalar(block: $0, into: $1) }) }

    /// The eight (scale, min) pairs decoded side by side equal ggml's one-at-a-time unpacking.
    func testQ4_KScalesAndMinsAllAtOnce() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<2000 {
            let bytes = (0..<12).map { _ in UInt8.random(in: 0...255, using: &rng) }
            bytes.withUnsafeBytes { p in
                let (sc, mn) = BlockQ4_K.scalesAndMins(p.baseAddress!)
                for j in 0..<8 {
                    let (s, m) = BlockQ4_K.scaleMin(j, p.baseAddress!)
                    XCTAssertEqual(sc[j], Float(s))
                    XCTAssertEqual(mn[j], Float(m))
                }
            }
        }
    }

    /// The eight neighbour candidates evaluated side by side give the errors of evaluating each
    /// one alone (summation order aside); candidates outside 0…63 are +∞, a zero scale gives
    /// level 0 everywhere.
    func testQ4_KNeighbourErrors() {
        var rng = SeededRandom(seed: 8)
        for trial in 0..<300 {
            let x = (0..<32).map { _ in Float.random(in: -1...1, using: &rng) }
            let w: [Float]? = trial % 2 == 0 ? nil : (0..<32).map { _ in Float.random(in: 0.1...3, using: &rng) }
            let d = Float.random(in: 0.001...0.01, using: &rng), dmin = Float.random(in: 0.001...0.02, using: &rng)
            let s = [0, 1, 63, 31][trial % 4], m = [63, 0, 17, 1][trial / 4 % 4]
            let got = x.withUnsafeBufferPointer { xb in
                w.map { wv in wv.withUnsafeBufferPointer { BlockQ4_K.neighbourErrors(xb.baseAddress!, $0.baseAddress!, d: d, dmin: dmin, s: s, m: m) } }
                    ?? BlockQ4_K.neighbourErrors(xb.baseAddress!, nil, d: d, dmin: dmin, s: s, m: m)
            }
            let steps = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
            for (lane, (ds, dm)) in steps.enumerated() {
                let sc = s + ds, mc = m + dm
                guard (0...63).contains(sc), (0...63).contains(mc) else {
                    XCTAssertEqual(got[lane], .infinity); continue
                }
                let D = d * Float(sc), M = dmin * Float(mc)
                var err = 0.0
                for i in 0..<32 {
                    let l: Float = D > 0 ? min(15, max(0, ((x[i] + M) / D).rounded(.toNearestOrEven))) : 0
                    let e = Double(x[i] - (D * l - M))
                    err += Double(w?[i] ?? 1) * e * e
                }
                XCTAssertEqual(Double(got[lane]), err, accuracy: 1e-5 * max(err, 1e-6), "trial \(trial) lane \(lane)")
            }
        }
    }
}
