/// `FittedSearch` for eight blocks side by side, lane b of every vector being block b (as
/// `ScaleSearch8` does for the direct search): the same candidates, scores and refit, so both
/// choose the same scales up to the order of float additions.
enum FittedSearch8 {
    typealias V = SIMD8<Float>

    /// Keeps (d, e) in the lanes where `ok` holds and e beats the best so far.
    @inline(__always)
    static func offer(_ ok: SIMDMask<SIMD8<Int32>>, _ d: V, _ e: V, _ bestErr: inout V, _ bestD: inout V) {
        let better = ok .& (e .< bestErr)
        bestErr.replace(with: e, where: better)
        bestD.replace(with: d, where: better)
    }

    /// Subtracts `origin` from every x and returns Σw, Σwx, Σwx² of the result.
    @inline(__always)
    static func relativeSums(_ xt: UnsafeMutablePointer<V>, _ wt: UnsafeMutablePointer<V>, _ n: Int, origin: V) -> (V, V, V) {
        var sw = V(), sx = V(), sxx = V()
        for j in 0..<n {
            xt[j] -= origin
            let p = wt[j] * xt[j]
            sw += wt[j]; sx += p; sxx.addProduct(p, xt[j])
        }
        return (sw, sx, sxx)
    }

    /// Symmetric levels q ∈ [qmin, qmax] for 8 blocks of `n` (even) weights; returns the 8
    /// f16-exact scales (0 for all-zero blocks). Levels: `ScaleSearch.levels`.
    @inline(__always)
    static func symmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: ScaleSearch8.LaneWeights, qmin: Int, qmax: Int) -> V {
        ScaleSearch8.withLanes(x, weights, n) { xt, wt in
            let (amax, vmax) = ScaleSearch8.signedMax(xt, n)
            let live = amax .> 0
            let lo = V(repeating: Float(qmin)), hi = V(repeating: Float(qmax))
            let sxx = ScaleSearch8.sum4(n) { j in (wt[j] * xt[j], xt[j]) }
            var bestErr = V(repeating: .infinity), bestD = V()
            // The best so far is passed inout (captured vars would be boxed).
            @inline(__always) func consider(_ dc: V, _ bestErr: inout V, _ bestD: inout V) {
                let okc = live .& ScaleSearch8.finiteNonZero(dc)
                guard ScaleSearch8.anyLane(okc) else { return }
                let inv = 1 / dc
                // Two sets of running sums: one set is two chains of dependent adds.
                var sxl = V(), sll = V(), sxl2 = V(), sll2 = V()
                var j = 0
                while j + 2 <= n {
                    let l = ScaleSearch.clamp(ScaleSearch.round(xt[j] * inv), lo, hi)
                    let l2 = ScaleSearch.clamp(ScaleSearch.round(xt[j + 1] * inv), lo, hi)
                    let wl = wt[j] * l, wl2 = wt[j + 1] * l2
                    sxl.addProduct(wl, xt[j]); sll.addProduct(wl, l)
                    sxl2.addProduct(wl2, xt[j + 1]); sll2.addProduct(wl2, l2)
                    j += 2
                }
                sxl += sxl2; sll += sll2
                offer(okc, dc, FittedSearch.symmetricError(dc, sxx: sxx, sxl: sxl, sll: sll), &bestErr, &bestD)
                let d = ScaleSearch8.f16(sxl / sll)
                let ok = okc .& (sll .> 0) .& ScaleSearch8.finiteNonZero(d)
                offer(ok, d, FittedSearch.symmetricError(d, sxx: sxx, sxl: sxl, sll: sll), &bestErr, &bestD)
            }
            FittedSearch.symmetricDivisors(qmin: qmin, qmax: qmax) { consider(ScaleSearch8.f16(vmax / $0), &bestErr, &bestD) }
            consider(bestD, &bestErr, &bestD)   // the refit
            return bestD
        }
    }

    /// Asymmetric levels q ∈ [0, nmax] for 8 blocks of `n` (even) weights; returns the
    /// f16-exact (d, m) per block (d = 0, m = the value for constant blocks).
    @inline(__always)
    static func asymmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: ScaleSearch8.LaneWeights, nmax: Int) -> (d: V, m: V) {
        ScaleSearch8.withLanes(x, weights, n) { xt, wt in
            let (lo, hi) = ScaleSearch8.range(xt, n)
            let live = hi .> lo
            // Weights relative to the minimum: the sums stay non-negative and the form cancels less.
            // (Constants from here on: vars captured by `consider` would be boxed, with a
            // dynamic exclusivity check on every access.)
            let (sw, sx, sxx) = relativeSums(xt, wt, n, origin: lo)
            let top = V(repeating: Float(nmax)), zero = V(), inf = V(repeating: .infinity)
            let mlo = ScaleSearch8.f16(lo)
            var bestErr = V(repeating: .infinity), bestD = V(), bestM = mlo
            @inline(__always) func consider(_ dc: V, _ mc: V, _ bestErr: inout V, _ bestD: inout V, _ bestM: inout V) {
                let okc = live .& (dc .> 0) .& (dc .< inf)
                guard ScaleSearch8.anyLane(okc) else { return }
                let inv = 1 / dc, c = (lo - mc) * inv
                var sl = V(), sll = V(), sxl = V(), sl2 = V(), sll2 = V(), sxl2 = V()
                var j = 0
                while j + 2 <= n {
                    let l = ScaleSearch.clamp(ScaleSearch.round(c.addingProduct(xt[j], inv)), zero, top)
                    let l2 = ScaleSearch.clamp(ScaleSearch.round(c.addingProduct(xt[j + 1], inv)), zero, top)
                    let wl = wt[j] * l, wl2 = wt[j + 1] * l2
                    sl += wl; sll.addProduct(wl, l); sxl.addProduct(wl, xt[j])
                    sl2 += wl2; sll2.addProduct(wl2, l2); sxl2.addProduct(wl2, xt[j + 1])
                    j += 2
                }
                sl += sl2; sll += sll2; sxl += sxl2
                @inline(__always) func score(_ d: V, _ m: V) -> V {
                    FittedSearch.asymmetricError(d, m - lo, sw: sw, sx: sx, sxx: sxx, sl: sl, sll: sll, sxl: sxl)
                }
                var better = okc .& (score(dc, mc) .< bestErr)
                bestErr.replace(with: score(dc, mc), where: better)
                bestD.replace(with: dc, where: better)
                bestM.replace(with: mc, where: better)
                let fit = FittedSearch.leastSquares(sw: sw, sx: sx, sl: sl, sll: sll, sxl: sxl)
                let d = ScaleSearch8.f16(fit.d)
                let m = ScaleSearch8.f16(lo + fit.m)
                let e = score(d, m)
                better = okc .& (fit.det .> 0) .& (d .> 0) .& (d .< inf) .& (ScaleSearch8.abs(m) .< inf) .& (e .< bestErr)
                bestErr.replace(with: e, where: better)
                bestD.replace(with: d, where: better)
                bestM.replace(with: m, where: better)
            }
            let range = hi - lo
            FittedSearch.asymmetricDivisors(nmax: nmax) { consider(ScaleSearch8.f16(range / $0), mlo, &bestErr, &bestD, &bestM) }
            consider(bestD, bestM, &bestErr, &bestD, &bestM)   // the refit
            return (bestD, bestM)
        }
    }
}
