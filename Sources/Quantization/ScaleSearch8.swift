/// The scale search of `ScaleSearch` for eight blocks side by side: lane b of every vector is
/// block b, so a candidate scale is tried on eight blocks with the same instructions that tried
/// it on one, and the per-candidate work that does not vectorize within a block (the
/// horizontal error sum, the f16 rounding of the scale, its reciprocal, the comparison with the
/// best so far) is shared by eight. Same candidates, refits and f16 rounding as the one-block
/// search (which still serves the last < 8 blocks of a row), so both choose the same scales up
/// to the order of float additions in the error sums.
enum ScaleSearch8 {
    typealias V = SIMD8<Float>

    @inline(__always) static func f16(_ v: V) -> V { V(SIMD8<Float16>(v)) }
    @inline(__always) static func round(_ v: V) -> V { v.rounded(.toNearestOrEven) }
    @inline(__always) static func abs(_ v: V) -> V {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & SIMD8(repeating: 0x7FFF_FFFF), to: V.self)
    }
    @inline(__always) static func finiteNonZero(_ v: V) -> SIMDMask<SIMD8<Int32>> {
        (v .!= 0) .& (abs(v) .< V(repeating: .infinity))
    }

    /// Calls `body` with the 8 blocks of `n` weights from `x` (contiguous, as in a row)
    /// transposed into `n` vectors, and their importance (ones when nil) likewise.
    @inline(__always)
    static func withLanes<R>(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ n: Int,
                             _ body: (UnsafeMutablePointer<V>, UnsafeMutablePointer<V>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: V.self, capacity: 2 * n) { buf in
            let xt = buf.baseAddress!, wt = xt + n
            transpose(x, n, into: xt)
            if let w { transpose(w, n, into: wt) } else { wt.initialize(repeating: V(repeating: 1), count: n) }
            return body(xt, wt)
        }
    }

    /// 8 rows of `n` (a multiple of 8) → `n` vectors of 8, by 8×8 tiles.
    @inline(__always)
    static func transpose(_ x: UnsafePointer<Float>, _ n: Int, into t: UnsafeMutablePointer<V>) {
        for c in stride(from: 0, to: n, by: 8) {
            for j in 0..<8 {
                t[c + j] = V(x[c + j], x[n + c + j], x[2 * n + c + j], x[3 * n + c + j],
                             x[4 * n + c + j], x[5 * n + c + j], x[6 * n + c + j], x[7 * n + c + j])
            }
        }
    }

    /// Symmetric levels q ∈ [qmin, qmax], x̂ = d·q, for 8 blocks; returns the 8 scales (f16-exact
    /// unless `roundScale` is false, 0 for all-zero blocks). Levels: `ScaleSearch.levels`.
    @inline(__always)
    static func symmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: UnsafePointer<Float>?, qmin: Int, qmax: Int,
                          roundScale: Bool = true) -> V {
        withLanes(x, weights, n) { xt, wt in
            // The first value of largest magnitude, with its sign, per block (as the scalar loop).
            var amax = V(), vmax = V()
            for j in 0..<n {
                let a = abs(xt[j]), c = a .> amax
                amax.replace(with: a, where: c)
                vmax.replace(with: xt[j], where: c)
            }
            let live = amax .> 0
            let lo = V(repeating: Float(qmin)), hi = V(repeating: Float(qmax))
            var bestErr = V(repeating: .infinity), bestD = V()
            func consider(_ d: V) {
                let ds = roundScale ? f16(d) : d
                let ok = live .& finiteNonZero(ds)
                guard any(ok) else { return }
                let inv = 1 / ds
                var err = V()
                for j in 0..<n {
                    let e = xt[j] - ds * ScaleSearch.clamp(round(xt[j] * inv), lo, hi)
                    err.addProduct(wt[j], e * e)
                }
                let better = ok .& (err .< bestErr)
                bestErr.replace(with: err, where: better)
                bestD.replace(with: ds, where: better)
            }
            ScaleSearch.symmetricDivisors(qmin: qmin, qmax: qmax) { consider(vmax / $0) }
            for _ in 0..<2 {
                let inv = 1 / bestD
                var sxq = V(), sqq = V()
                for j in 0..<n {
                    let l = ScaleSearch.clamp(round(xt[j] * inv), lo, hi)
                    let wl = wt[j] * l
                    sxq.addProduct(wl, xt[j])
                    sqq.addProduct(wl, l)
                }
                let ok = (bestD .!= 0) .& (sqq .> 0)
                guard any(ok) else { break }
                consider((sxq / sqq).replacing(with: 0, where: .!ok))
            }
            return bestD
        }
    }

    /// Asymmetric levels q ∈ [0, nmax], x̂ = d·q + m, for 8 blocks; returns (d, m) per block
    /// (f16-exact unless `roundScales` is false). Constant blocks get d = 0, m = their value.
    @inline(__always)
    static func asymmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: UnsafePointer<Float>?, nmax: Int,
                           roundScales: Bool = true, maxMin: Float? = nil) -> (d: V, m: V) {
        withLanes(x, weights, n) { xt, wt in
            var lo = xt[0], hi = xt[0]
            for j in 1..<n {
                lo.replace(with: xt[j], where: xt[j] .< lo)
                hi.replace(with: xt[j], where: xt[j] .> hi)
            }
            if let c = maxMin { lo.replace(with: V(repeating: c), where: V(repeating: c) .< lo) }
            let rnd: (V) -> V = roundScales ? f16 : { $0 }
            let live = hi .> lo
            let top = V(repeating: Float(nmax)), zero = V()
            var bestErr = V(repeating: .infinity), bestD = V(), bestM = rnd(lo)
            func consider(_ d0: V, _ m0: V) {
                var m = rnd(m0)
                if let c = maxMin { m.replace(with: rnd(V(repeating: c)), where: m .> V(repeating: c)) }
                let d = rnd(d0)
                let ok = live .& (d .> 0) .& (d .< V(repeating: .infinity))
                guard any(ok) else { return }
                let inv = 1 / d
                var err = V()
                for j in 0..<n {
                    let l = ScaleSearch.clamp(round((xt[j] - m) * inv), zero, top)
                    let e = xt[j] - (d * l + m)
                    err.addProduct(wt[j], e * e)
                }
                let better = ok .& (err .< bestErr)
                bestErr.replace(with: err, where: better)
                bestD.replace(with: d, where: better)
                bestM.replace(with: m, where: better)
            }
            let range = hi - lo
            consider(range / Float(nmax), lo)
            for step in -4...4 where step != 0 {
                consider(range / (Float(nmax) + Float(step) * 0.15), lo)
            }
            for _ in 0..<3 {
                let inv = 1 / bestD
                var sw = V(), sq = V(), sqq = V(), sx = V(), sqx = V()
                for j in 0..<n {
                    let l = ScaleSearch.clamp(round((xt[j] - bestM) * inv), zero, top)
                    let w = wt[j], wl = w * l
                    sw += w; sq += wl; sqq.addProduct(wl, l); sx.addProduct(w, xt[j]); sqx.addProduct(wl, xt[j])
                }
                let det = sw * sqq - sq * sq
                let ok = (bestD .> 0) .& (det .> 0)
                guard any(ok) else { break }
                var d = (sw * sqx - sq * sx) / det
                var m = (sqq * sx - sq * sqx) / det
                if let c = maxMin {
                    let over = m .> V(repeating: c)
                    m.replace(with: V(repeating: c), where: over)
                    d.replace(with: (sqx - m * sq) / sqq, where: over .& (sqq .> 0))
                }
                consider(d.replacing(with: 0, where: .!ok), m)
            }
            return (bestD, bestM)
        }
    }
}

extension ScaleSearch8 {
    /// Searches 8 consecutive blocks of 32 symmetrically and hands each block's scale and
    /// levels to `store` (block index, d, q).
    @inline(__always)
    static func symmetricBlocks(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, qmin: Int, qmax: Int,
                                _ store: (Int, Float, UnsafePointer<Int8>) -> Void) {
        let d = symmetric(x, 32, weights: weights, qmin: qmin, qmax: qmax)
        let lo = V(repeating: Float(qmin)), hi = V(repeating: Float(qmax))
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            for b in 0..<8 {
                ScaleSearch.levels(x + 32 * b, 32, inv: d[b] != 0 ? 1 / d[b] : 0, lo: lo, hi: hi, into: q.baseAddress!)
                store(b, d[b], q.baseAddress!)
            }
        }
    }

    /// Searches 8 consecutive blocks of 32 asymmetrically (levels 0…nmax) and hands each
    /// block's (d, m) and levels to `store`.
    @inline(__always)
    static func asymmetricBlocks(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, nmax: Int,
                                 _ store: (Int, Float, Float, UnsafePointer<UInt8>) -> Void) {
        let (d, m) = asymmetric(x, 32, weights: weights, nmax: nmax)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            for b in 0..<8 {
                ScaleSearch.asymmetricLevels(x + 32 * b, 32, d: d[b], m: m[b], nmax: nmax, into: q.baseAddress!)
                store(b, d[b], m[b], q.baseAddress!)
            }
        }
    }
}
