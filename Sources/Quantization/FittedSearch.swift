/// The fitted scale search of the 4- and 5-bit block formats (Q4_0, Q5_0, Q4_1, Q5_1): each
/// candidate scale only proposes levels — the nearest ones for it — and is then scored twice
/// from the same running sums: at its own scale, and at the least-squares scale (and minimum)
/// for those levels, f16-rounded as stored. That is ggml's `make_qx_quants` idea (score
/// Σwxl²/Σwl² per candidate) with the f16 rounding of the stored scale taken into account.
///
/// Because each candidate already carries its refit, a few candidates do what ScaleSearch's
/// ten plus two refit rounds did: three candidates and one refit for the symmetric formats,
/// four and one for the asymmetric ones (Mistral-7B-shaped layer, RMSE Q4_0 1.8395e-3 →
/// 1.8424e-3, Q4_1 1.5703e-3 → 1.5691e-3, with a third of the passes over the weights).
///
/// The error of a (d, m) for levels l is a quadratic form in the sums Σw, Σwx, Σwx², Σwl,
/// Σwl², Σwxl (x relative to the block minimum in the asymmetric case), so one pass over the
/// weights scores both. It is an upper bound of the error with the nearest levels for that
/// (d, m), which are the levels finally stored. The form cancels: its float rounding is about
/// 1e-6 of Σwx², a thousandth of the error at 4 bits but a sizeable part of it at 8 — Q8_0
/// keeps ScaleSearch, which sums the errors themselves.
///
/// This file: the candidate lists and the one-block search (`BlockFormat.quantize`, and a
/// row's last < 8 blocks through `Quantize.row`; `Quantize.matrix` gathers those across rows,
/// `TailGather`); `FittedSearch8` runs the same on eight blocks side by side.
enum FittedSearch {
    typealias V = SIMD8<Float>

    /// Symmetric candidates: the signed extreme vmax mapped to qmin (ggml's reference scale),
    /// to qmin − ½ (the extreme rounds to qmin, the rest spread wider) and to qmax.
    @inline(__always)
    static func symmetricDivisors(qmin: Int, qmax: Int, _ body: (Float) -> Void) {
        body(Float(qmin)); body(Float(qmin) - 0.5); body(Float(qmax))
    }

    /// Asymmetric candidates: the range divided by these, with the minimum at the block's
    /// smallest value; the first is ggml's reference (range / nmax).
    @inline(__always)
    static func asymmetricDivisors(nmax: Int, _ body: (Float) -> Void) {
        let t = Float(nmax)
        body(t); body(t - 0.6); body(t - 0.3); body(t + 0.3)
    }

    /// Σw(x − d·l)² from Σwx², Σwxl, Σwl².
    @inline(__always) static func symmetricError<T: SIMDOrScalar>(_ d: T, sxx: T, sxl: T, sll: T) -> T {
        sxx + d * (d * sll - 2 * sxl)
    }

    /// Σw(x − d·l − m)² from the sums (x and m relative to the same origin).
    @inline(__always)
    static func asymmetricError<T: SIMDOrScalar>(_ d: T, _ m: T, sw: T, sx: T, sxx: T, sl: T, sll: T, sxl: T) -> T {
        let a: T = d * (d * sll - 2 * sxl)
        let b: T = m * sw - 2 * sx + 2 * d * sl
        return sxx + a + m * b
    }

    /// Least-squares (d, m) for levels with sums Σw, Σwx, Σwl, Σwl², Σwxl, and the system's
    /// determinant: the levels determine (d, m) only where it is > 0 (two distinct levels
    /// carrying weight). One block or eight lanes (`ScaleSearch8`'s refit uses it too).
    @inline(__always)
    static func leastSquares<T: SIMDOrScalar>(sw: T, sx: T, sl: T, sll: T, sxl: T) -> (det: T, d: T, m: T) {
        let det = sw * sll - sl * sl
        return (det, (sw * sxl - sl * sx) / det, (sll * sx - sl * sxl) / det)
    }

    /// Symmetric levels q ∈ [qmin, qmax], x̂ = d·q, for one block of `n` (a multiple of 8).
    /// Returns the f16-exact d (0 for an all-zero block) and writes q.
    static func symmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: UnsafePointer<Float>?,
                          qmin: Int, qmax: Int, levels q: UnsafeMutablePointer<Int8>) -> Float {
        let (amax, vmax) = BlockExtremes.signedMax(x, n)
        let lo = V(repeating: Float(qmin)), hi = V(repeating: Float(qmax))
        guard amax > 0 else {
            for i in 0..<n { q[i] = 0 }
            return 0
        }
        let best: Float = ScaleSearch.withVectors(x, weights, n) { xv, wv, nv in
            var s = V()
            for k in 0..<nv { s.addProduct(wv[k] * xv[k], xv[k]) }
            let sxx = s.total
            var bestErr = Float.infinity, bestD: Float = 0
            func offer(_ d: Float, _ e: Float, _ bestErr: inout Float, _ bestD: inout Float) {
                if d != 0, d.isFinite, e < bestErr { bestErr = e; bestD = d }
            }
            func consider(_ dc: Float, _ bestErr: inout Float, _ bestD: inout Float) {
                guard dc != 0, dc.isFinite else { return }
                let inv = V(repeating: 1 / dc)
                var sxl = V(), sll = V()
                for k in 0..<nv {
                    let l = ScaleSearch.clamp(ScaleSearch.round(xv[k] * inv), lo, hi), wl = wv[k] * l
                    sxl.addProduct(wl, xv[k]); sll.addProduct(wl, l)
                }
                let (xl, ll) = (sxl.total, sll.total)
                offer(dc, symmetricError(dc, sxx: sxx, sxl: xl, sll: ll), &bestErr, &bestD)
                guard ll > 0 else { return }
                let d = ScaleSearch.f16(xl / ll)
                offer(d, symmetricError(d, sxx: sxx, sxl: xl, sll: ll), &bestErr, &bestD)
            }
            symmetricDivisors(qmin: qmin, qmax: qmax) { consider(ScaleSearch.f16(vmax / $0), &bestErr, &bestD) }
            consider(bestD, &bestErr, &bestD)   // the refit: levels for the best scale so far
            return bestD
        }
        ScaleSearch.levels(x, n, inv: best != 0 ? 1 / best : 0, lo: lo, hi: hi, into: q)
        return best
    }

    /// Asymmetric levels q ∈ [0, nmax], x̂ = d·q + m, for one block of `n` (a multiple of 8).
    /// Returns the f16-exact (d, m) (d = 0 and m = the value for a constant block) and writes q.
    static func asymmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: UnsafePointer<Float>?, nmax: Int,
                           levels q: UnsafeMutablePointer<UInt8>) -> (Float, Float) {
        let (lo, hi) = BlockExtremes.range(x, n)
        let mlo = ScaleSearch.f16(lo)
        guard hi > lo else {
            for i in 0..<n { q[i] = 0 }
            return (0, mlo)
        }
        let top = V(repeating: Float(nmax)), zero = V()
        let best: (Float, Float) = ScaleSearch.withVectors(x, weights, n) { xv, wv, nv in
            // Weights relative to the minimum: the sums stay non-negative and the form cancels less.
            var w = V(), wx = V(), wxx = V()
            for k in 0..<nv {
                xv[k] -= V(repeating: lo)
                let p = wv[k] * xv[k]
                w += wv[k]; wx += p; wxx.addProduct(p, xv[k])
            }
            let (sw, sx, sxx) = (w.total, wx.total, wxx.total)
            var bestErr = Float.infinity
            var best: (d: Float, m: Float) = (0, mlo)
            func offer(_ d: Float, _ m: Float, _ e: Float, _ bestErr: inout Float, _ best: inout (d: Float, m: Float)) {
                if d > 0, d.isFinite, m.isFinite, e < bestErr { bestErr = e; best = (d, m) }
            }
            func consider(_ dc: Float, _ mc: Float, _ bestErr: inout Float, _ best: inout (d: Float, m: Float)) {
                guard dc > 0, dc.isFinite else { return }
                let invs = 1 / dc, inv = V(repeating: invs), c = V(repeating: (lo - mc) * invs)
                var sl = V(), sll = V(), sxl = V()
                for k in 0..<nv {
                    let l = ScaleSearch.clamp(ScaleSearch.round(c.addingProduct(xv[k], inv)), zero, top), wl = wv[k] * l
                    sl += wl; sll.addProduct(wl, l); sxl.addProduct(wl, xv[k])
                }
                let (l1, l2, xl) = (sl.total, sll.total, sxl.total)
                func score(_ d: Float, _ m: Float) -> Float {
                    asymmetricError(d, m - lo, sw: sw, sx: sx, sxx: sxx, sl: l1, sll: l2, sxl: xl)
                }
                offer(dc, mc, score(dc, mc), &bestErr, &best)
                let fit = leastSquares(sw: sw, sx: sx, sl: l1, sll: l2, sxl: xl)
                guard fit.det > 0 else { return }
                let d = ScaleSearch.f16(fit.d), m = ScaleSearch.f16(lo + fit.m)
                offer(d, m, score(d, m), &bestErr, &best)
            }
            let range = hi - lo
            asymmetricDivisors(nmax: nmax) { consider(ScaleSearch.f16(range / $0), mlo, &bestErr, &best) }
            consider(best.d, best.m, &bestErr, &best)   // the refit
            return best
        }
        ScaleSearch.asymmetricLevels(x, n, d: best.0, m: best.1, nmax: nmax, into: q)
        return best
    }
}

/// Float and SIMD8<Float> alike, for the error forms shared by the one-block and 8-lane searches.
protocol SIMDOrScalar {
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func * (a: Float, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
}
extension Float: SIMDOrScalar {}
extension SIMD8: SIMDOrScalar where Scalar == Float {}
