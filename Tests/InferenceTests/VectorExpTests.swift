import Foundation
import Inference
import TestSupport
import XCTest

/// The SIMD exp against glibc's (Double), over the range softmax and SiLU see, and the edges.
final class VectorExpTests: XCTestCase {
    func testRelativeErrorAndEdges() {
        var rng = SeededRandom(seed: 11)
        var worst = 0.0
        for _ in 0..<20_000 {
            let x = SIMD8<Float>((0..<8).map { _ in Float.random(in: -87...88, using: &rng) })
            let e = VectorExp.exp(x)
            for i in 0..<8 {
                let exact = Foundation.exp(Double(x[i]))
                worst = max(worst, abs(Double(e[i]) - exact) / exact)
            }
        }
        XCTAssertLessThan(worst, 3e-7)
        let edges = VectorExp.exp(SIMD8<Float>(-.infinity, -100, 0, 1, .infinity, 100, -87.4, .nan))
        XCTAssertEqual(edges[0], 0); XCTAssertEqual(edges[1], 0); XCTAssertEqual(edges[2], 1)
        XCTAssertEqual(edges[3], Float(M_E), accuracy: 1e-6)
        XCTAssertTrue(edges[4].isFinite && edges[4] > 1e38); XCTAssertTrue(edges[5] > 1e38)
        XCTAssertEqual(edges[6], 0); XCTAssertTrue(edges[7].isNaN)
    }

    func testSoftmaxMatchesDouble() {
        var rng = SeededRandom(seed: 12)
        for n in [1, 5, 8, 13, 64, 100] {
            var x = (0..<n).map { _ in Float.random(in: -30...30, using: &rng) }
            if n > 3 { x[2] = -.infinity }   // a masked position
            let m = x.max()!
            let z = x.reduce(0.0) { $0 + Foundation.exp(Double($1 - m)) }
            let expected = x.map { Foundation.exp(Double($0 - m)) / z }
            x.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, n) }
            for i in 0..<n { XCTAssertEqual(Double(x[i]), expected[i], accuracy: 1e-6 * max(expected[i], 1e-30) + 1e-12, "n=\(n) i=\(i)") }
        }
    }
}
