import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// The eight-blocks-side-by-side search must choose what the one-block search chooses: same
/// candidates and refits, only the order of float additions differs. That can still flip a
/// near-tie between two candidates (the fitted search scores them with an error form that
/// cancels, and the asymmetric fit solves a 2×2 system), either way round: allowed in under
/// 2% of blocks (measured: at most 17 of 1600, Q5_1), neither side worse than ggml's reference block, the totals equal to 0.1%.
final class ScaleSearch8Tests: XCTestCase {
    func testMatchesOneBlockSearch() {
        var rng = SeededRandom(seed: 8)
        let formats: [any EightBlockSearch.Type] = [BlockQ8_0.self, BlockQ4_0.self, BlockQ5_0.self, BlockQ4_1.self, BlockQ5_1.self]
        for f in formats {
            let n = f.dtype.blockSize, bytes = f.dtype.blockBytes
            var differing = 0, total = 0
            var sum8 = 0.0, sum1 = 0.0
            for trial in 0..<200 {
                var x = (0..<(8 * n)).map { _ in Float.random(in: -1...1, using: &rng) * Float.random(in: 0.01...1, using: &rng) }
                for _ in 0..<3 { x[Int.random(in: 0..<x.count, using: &rng)] *= 20 }
                if trial % 10 == 0 { for j in 0..<n { x[2 * n + j] = 0 } }          // an all-zero block
                if trial % 10 == 1 { for j in 0..<n { x[5 * n + j] = 0.3 } }        // a constant block
                // The 8-block search weighs by a row's importance (an importance-matrix row on odd
                // trials) computed from its transposed lanes; the one-block search gets the same
                // weights as a vector.
                let columns: [Float]? = trial % 2 == 0 ? nil : (0..<x.count).map { _ in Float.random(in: 0.1...4, using: &rng) }
                let s2 = Float.random(in: 0.001...0.5, using: &rng)
                var weights = [Float](repeating: 0, count: x.count)
                columns.withOptionalPointer { cp in
                    x.withUnsafeBufferPointer { xp in
                        weights.withUnsafeMutableBufferPointer { RowImportance(s2: s2, columns: cp).weights(xp.baseAddress!, x.count, into: $0.baseAddress!) }
                    }
                }
                let w: [Float]? = weights
                var eight = [UInt8](repeating: 0, count: 8 * bytes), one = eight
                x.withUnsafeBufferPointer { xp in
                    w.withOptionalPointer { wp in
                        columns.withOptionalPointer { cp in
                            eight.withUnsafeMutableBytes { f.quantize8(xp.baseAddress!, importance: RowImportance(s2: s2, columns: cp), into: $0.baseAddress!) }
                        }
                        one.withUnsafeMutableBytes { o in
                            for b in 0..<8 { f.quantize(xp.baseAddress! + n * b, weights: wp.map { $0 + n * b }, into: o.baseAddress! + bytes * b) }
                        }
                        for b in 0..<8 {
                            total += 1
                            let e8 = eight.withUnsafeBytes { f.blockError(xp.baseAddress! + n * b, weights: wp.map { $0 + n * b }, block: $0.baseAddress! + bytes * b) }
                            let e1 = one.withUnsafeBytes { f.blockError(xp.baseAddress! + n * b, weights: wp.map { $0 + n * b }, block: $0.baseAddress! + bytes * b) }
                            sum8 += Double(e8); sum1 += Double(e1)
                            if eight[(bytes * b)..<(bytes * (b + 1))] != one[(bytes * b)..<(bytes * (b + 1))] {
                                differing += 1
                                // A near-tie between two candidates can go either way and the refit
                                // then moves on from different levels (seen: 11% apart in one block
                                // of 1600); what must hold is that neither is worse than ggml's block.
                                // Below a millionth of the block's weighted energy both are exact to
                                // float precision, and the fitted search's error form cannot tell them apart.
                                let energy = (0..<n).reduce(Float(0)) { $0 + (w?[n * b + $1] ?? 1) * x[n * b + $1] * x[n * b + $1] }
                                var ref = [UInt8](repeating: 0, count: bytes)
                                ref.withUnsafeMutableBytes { f.quantizeReference(xp.baseAddress! + n * b, into: $0.baseAddress!) }
                                let eRef = ref.withUnsafeBytes { f.blockError(xp.baseAddress! + n * b, weights: wp.map { $0 + n * b }, block: $0.baseAddress!) }
                                let slack = max(1e-5 * eRef, 1e-6 * energy, 1e-12)
                                XCTAssertLessThanOrEqual(e8, eRef + slack, "\(f.dtype) block \(b) trial \(trial): 8 blocks vs ggml")
                                XCTAssertLessThanOrEqual(e1, eRef + slack, "\(f.dtype) block \(b) trial \(trial): one block vs ggml")
                                XCTAssertEqual(e8, e1, accuracy: max(0.25 * e1, 1e-6 * energy, 1e-12), "\(f.dtype) block \(b) trial \(trial)")
                            }
                        }
                    }
                }
            }
            XCTAssertLessThanOrEqual(differing, total / 50, "\(f.dtype): \(differing) of \(total) blocks differ")
            XCTAssertEqual(sum8, sum1, accuracy: 1e-3 * sum1, "\(f.dtype): total weighted error")
        }
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress!) }
        case .none: return body(nil)
        }
    }
}
