import TestSupport
import XCTest
@testable import Quantization

/// The SIMD reference quantizers (Q8_0, Q4_0, Q4_1) against their one-weight-at-a-time forms,
/// on blocks built to hit the edges: exact halves after scaling, +a and −a both present (the
/// first must win), all zeros, constants, denormals, and random blocks with outliers. The
/// golden tests compare with gguf-py on real vectors; these cover what those may miss.
final class ReferenceLevelsTests: XCTestCase {
    static func blocks() -> [[Float]] {
        var rng = SeededRandom(seed: 7)
        var out: [[Float]] = [[Float](repeating: 0, count: 32), [Float](repeating: -0.0, count: 32),
                              [Float](repeating: 0.75, count: 32), [Float](repeating: -3, count: 32),
                              [Float](repeating: .leastNonzeroMagnitude, count: 32)]
        for _ in 0..<3000 {
            var b = (0..<32).map { _ in Float.random(in: -1...1, using: &rng) }
            switch Int.random(in: 0..<6, using: &rng) {
            case 0:  // ±max tie, in either order
                let a = Float.random(in: 0.5...4, using: &rng)
                let i = Int.random(in: 0..<32, using: &rng), j = (i + Int.random(in: 1..<32, using: &rng)) % 32
                b[i] = a; b[j] = -a
            case 1:  // values on the half-steps of the scale max/127 (Q8_0) and max/8 (Q4_0)
                let m: Float = 127
                for k in 0..<32 { b[k] = (Float(Int.random(in: -254...254, using: &rng)) / 2) / m }
                b[0] = 1
            case 2:
                for k in 0..<32 { b[k] = (Float(Int.random(in: -16...16, using: &rng)) / 2) / 8 }
                b[5] = -1
            case 3:  // outliers
                b[Int.random(in: 0..<32, using: &rng)] *= 50
            case 4:  // few distinct values
                for k in 0..<32 { b[k] = Float(Int.random(in: -2...2, using: &rng)) * 0.125 }
            default: break
            }
            out.append(b)
        }
        return out
    }

    func check(_ name: String, bytes: Int, _ simd: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void,
               _ scalar: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void) {
        var mismatches = 0
        for b in Self.blocks() {
            var a = [UInt8](repeating: 0xAA, count: bytes), s = [UInt8](repeating: 0x55, count: bytes)
            b.withUnsafeBufferPointer { x in
                a.withUnsafeMutableBytes { simd(x.baseAddress!, $0.baseAddress!) }
                s.withUnsafeMutableBytes { scalar(x.baseAddress!, $0.baseAddress!) }
            }
            if a != s {
                mismatches += 1
                if mismatches <= 3 { XCTFail("\(name): \(b) → SIMD \(a) vs scalar \(s)") }
            }
        }
        XCTAssertEqual(mismatches, 0, name)
    }

    func testQ8_0() { check("Q8_0", bytes: 34, BlockQ8_0.quantizeReference, BlockQ8_0.quantizeReferenceScalar) }
    func testQ4_0() { check("Q4_0", bytes: 18, BlockQ4_0.quantizeReference, BlockQ4_0.quantizeReferenceScalar) }
    func testQ4_1() { check("Q4_1", bytes: 20, BlockQ4_1.quantizeReference, BlockQ4_1.quantizeReferenceScalar) }

    func testExtremes() {
        for b in Self.blocks() {
            b.withUnsafeBufferPointer { x in
                let (a, v) = BlockExtremes.signedMax(x.baseAddress!, 32), (sa, sv) = BlockExtremes.signedMaxScalar(x.baseAddress!, 32)
                XCTAssertEqual(a.bitPattern, sa.bitPattern); XCTAssertEqual(v.bitPattern, sv.bitPattern, "\(b)")
                let (lo, hi) = BlockExtremes.range(x.baseAddress!, 32), (slo, shi) = BlockExtremes.rangeScalar(x.baseAddress!, 32)
                XCTAssertEqual(lo, slo); XCTAssertEqual(hi, shi)
            }
        }
    }

    func testRoundHalfAwayIsRoundf() {
        let cases: [Float] = [0.5, -0.5, 1.5, -1.5, 2.5, 0.49999997, -0.49999997, 126.5, -126.5, 0, -0.0, 127, 3.4999998, 1e-30]
        for c in cases {
            let r = ReferenceLevels.roundHalfAway(SIMD8(repeating: c))
            XCTAssertEqual(r[0], c.rounded(), "\(c)")
        }
    }
}

final class ImportanceRootTests: XCTestCase {
    func testSquareRootIsCloseToExact() {
        var rng = SeededRandom(seed: 3)
        for _ in 0..<2000 {
            let y = SIMD8<Float>((0..<8).map { _ in Float.random(in: 0...1, using: &rng) * pow(10, Float.random(in: -30...30, using: &rng)) })
            let r = RowImportance.squareRoot(y)
            for i in 0..<8 { XCTAssertEqual(r[i], y[i].squareRoot(), accuracy: 1e-5 * y[i].squareRoot(), "\(y[i])") }
        }
        XCTAssertEqual(RowImportance.squareRoot(SIMD8(repeating: 0))[0], 0)
    }
}
