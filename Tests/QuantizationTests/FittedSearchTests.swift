import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// `FittedSearch` against a plain scalar version of the same search written here in Double:
/// the same candidates, each scored at its own and at its least-squares (d, m) for the nearest
/// levels, f16-rounded, then one refit. Float rounding can flip a near-tie, so the check is
/// that almost every block gets the same scale and the total weighted error agrees.
final class FittedSearchTests: XCTestCase {
    static func f16(_ v: Double) -> Double { Double(Float(Float16(Float(v)))) }

    /// Σw(x − d·l − m)² with l the nearest levels in [lo, hi] for (d, m), in Double.
    static func error(_ x: [Float], _ w: [Float], d: Double, m: Double, lo: Double, hi: Double) -> Double {
        var e = 0.0
        for j in x.indices {
            let l = d == 0 ? 0 : min(hi, max(lo, ((Double(x[j]) - m) / d).rounded(.toNearestOrEven)))
            let r = Double(x[j]) - d * l - m
            e += Double(w[j]) * r * r
        }
        return e
    }

    /// The symmetric search, scalar: returns d.
    static func symmetric(_ x: [Float], _ w: [Float], qmin: Int, qmax: Int) -> Double {
        var vmax = 0.0
        for v in x where abs(Double(v)) > abs(vmax) { vmax = Double(v) }
        guard vmax != 0 else { return 0 }
        let lo = Double(qmin), hi = Double(qmax)
        var best = (e: Double.infinity, d: 0.0)
        func consider(_ dc: Double) {
            guard dc != 0, dc.isFinite else { return }
            var xl = 0.0, ll = 0.0
            for j in x.indices {
                let l = min(hi, max(lo, (Double(x[j]) / dc).rounded(.toNearestOrEven)))
                xl += Double(w[j]) * Double(x[j]) * l; ll += Double(w[j]) * l * l
            }
            var candidates = [dc]
            if ll > 0 { candidates.append(f16(xl / ll)) }
            for d in candidates where d != 0 && d.isFinite {
                // The search scores d with the levels of dc; nearest levels for d are no worse.
                var e = 0.0
                for j in x.indices {
                    let l = min(hi, max(lo, (Double(x[j]) / dc).rounded(.toNearestOrEven)))
                    let r = Double(x[j]) - d * l
                    e += Double(w[j]) * r * r
                }
                if e < best.e { best = (e, d) }
            }
        }
        for div in [lo, lo - 0.5, hi] { consider(f16(vmax / div)) }
        consider(best.d)
        return best.d
    }

    /// The asymmetric search, scalar: returns (d, m).
    static func asymmetric(_ x: [Float], _ w: [Float], nmax: Int) -> (Double, Double) {
        let lo = Double(x.min()!), hi = Double(x.max()!)
        guard hi > lo else { return (0, f16(lo)) }
        let top = Double(nmax)
        var best = (e: Double.infinity, d: 0.0, m: f16(lo))
        func levels(_ d: Double, _ m: Double) -> [Double] {
            x.map { min(top, max(0, ((Double($0) - m) / d).rounded(.toNearestOrEven))) }
        }
        func score(_ l: [Double], _ d: Double, _ m: Double) -> Double {
            x.indices.reduce(0.0) { s, j in let r = Double(x[j]) - d * l[j] - m; return s + Double(w[j]) * r * r }
        }
        func consider(_ dc: Double, _ mc: Double) {
            guard dc > 0, dc.isFinite else { return }
            let l = levels(dc, mc)
            let e = score(l, dc, mc)
            if e < best.e { best = (e, dc, mc) }
            var sw = 0.0, sx = 0.0, sl = 0.0, sll = 0.0, sxl = 0.0
            for j in x.indices {
                let wj = Double(w[j]), xj = Double(x[j])
                sw += wj; sx += wj * xj; sl += wj * l[j]; sll += wj * l[j] * l[j]; sxl += wj * xj * l[j]
            }
            let det = sw * sll - sl * sl
            guard det > 0 else { return }
            let d = f16((sw * sxl - sl * sx) / det), m = f16((sll * sx - sl * sxl) / det)
            guard d > 0, d.isFinite, m.isFinite else { return }
            let ef = score(l, d, m)
            if ef < best.e { best = (ef, d, m) }
        }
        for div in [top, top - 0.6, top - 0.3, top + 0.3] { consider(f16((hi - lo) / div), f16(lo)) }
        consider(best.d, best.m)
        return (best.d, best.m)
    }

    static func block(_ rng: inout SeededRandom, weighted: Bool) -> ([Float], [Float]) {
        var x = (0..<32).map { _ in Float.random(in: -1...1, using: &rng) * Float.random(in: 0.01...1, using: &rng) }
        if Bool.random(using: &rng) { x[Int.random(in: 0..<32, using: &rng)] *= 15 }
        let w = (0..<32).map { _ in weighted ? Float.random(in: 0.1...4, using: &rng) : 1 }
        return (x, w)
    }

    func testSymmetricMatchesScalarSearch() {
        var rng = SeededRandom(seed: 31)
        for (qmin, qmax) in [(-8, 7), (-16, 15)] {
            var same = 0, ours = 0.0, theirs = 0.0
            let trials = 1000
            for t in 0..<trials {
                let (x, w) = Self.block(&rng, weighted: t % 2 == 1)
                var q = [Int8](repeating: 0, count: 32)
                let d = x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in
                    FittedSearch.symmetric(xp.baseAddress!, 32, weights: wp.baseAddress!, qmin: qmin, qmax: qmax, levels: &q)
                } }
                let ref = Self.symmetric(x, w, qmin: qmin, qmax: qmax)
                if Double(d) == ref { same += 1 }
                ours += Self.error(x, w, d: Double(d), m: 0, lo: Double(qmin), hi: Double(qmax))
                theirs += Self.error(x, w, d: ref, m: 0, lo: Double(qmin), hi: Double(qmax))
                // The stored levels are the nearest ones for the stored scale.
                for j in 0..<32 where d != 0 {
                    XCTAssertEqual(Double(q[j]), min(Double(qmax), max(Double(qmin), (Double(x[j]) / Double(d)).rounded(.toNearestOrEven))))
                }
            }
            XCTAssertGreaterThanOrEqual(same, trials * 99 / 100, "q\(qmax): \(same) of \(trials) scales equal")
            XCTAssertEqual(ours, theirs, accuracy: 1e-3 * theirs, "q\(qmax): total weighted error")
        }
    }

    func testAsymmetricMatchesScalarSearch() {
        var rng = SeededRandom(seed: 32)
        for nmax in [15, 31] {
            var same = 0, ours = 0.0, theirs = 0.0
            let trials = 1000
            for t in 0..<trials {
                let (x, w) = Self.block(&rng, weighted: t % 2 == 1)
                var q = [UInt8](repeating: 0, count: 32)
                let (d, m) = x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in
                    FittedSearch.asymmetric(xp.baseAddress!, 32, weights: wp.baseAddress!, nmax: nmax, levels: &q)
                } }
                let ref = Self.asymmetric(x, w, nmax: nmax)
                if Double(d) == ref.0 && Double(m) == ref.1 { same += 1 }
                ours += Self.error(x, w, d: Double(d), m: Double(m), lo: 0, hi: Double(nmax))
                theirs += Self.error(x, w, d: ref.0, m: ref.1, lo: 0, hi: Double(nmax))
            }
            XCTAssertGreaterThanOrEqual(same, trials * 98 / 100, "nmax \(nmax): \(same) of \(trials) (d, m) equal")
            XCTAssertEqual(ours, theirs, accuracy: 2e-3 * theirs, "nmax \(nmax): total weighted error")
        }
    }
}
