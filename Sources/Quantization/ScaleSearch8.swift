/// The scale search of `ScaleSearch` for eight blocks side by side: lane b of every vector is
/// block b, so a candidate scale is tried on eight blocks with the same instructions that tried
/// it on one, and the per-candidate work that does not vectorize within a block (the
/// horizontal error sum, the f16 rounding of the scale, its reciprocal, the comparison with the
/// best so far) is shared by eight. Same candidates, refits and f16 rounding as the one-block
/// search (which still serves the last < 8 blocks of a row), so both choose the same scales up
/// to the order of float additions in the error sums.
enum ScaleSearch8 {
    typealias V = SIMD8<Float>

    /// Rounded to f16 and back, lane by lane (one `vcvtps2ph` + `vcvtph2ps`; the SIMD8
    /// conversion initialisers are unspecialised generic calls here).
    @inline(__always) static func f16(_ v: V) -> V {
        var r = V()
        for i in 0..<V.scalarCount { r[i] = Float(Float16(v[i])) }
        return r
    }
    @inline(__always) static func abs(_ v: V) -> V {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & SIMD8(repeating: 0x7FFF_FFFF), to: V.self)
    }
    /// Whether any lane is set (the stdlib's `any` reduces through an unspecialised `min()` call).
    @inline(__always) static func anyLane(_ m: SIMDMask<SIMD8<Int32>>) -> Bool {
        let v = unsafeBitCast(m, to: SIMD8<Int32>.self)
        let h = v.lowHalf | v.highHalf, q = h.lowHalf | h.highHalf
        return (q[0] | q[1]) != 0
    }
    @inline(__always) static func finiteNonZero(_ v: V) -> SIMDMask<SIMD8<Int32>> {
        (v .!= 0) .& (abs(v) .< V(repeating: .infinity))
    }

    /// Σ a·b over term(j) = (a, b) for j in 0 ..< n, in four interleaved partial sums: one running sum is a chain
    /// of dependent adds (4 cycles each) that left the candidate loops waiting on latency.
    @inline(__always)
    static func sum4(_ n: Int, _ term: (Int) -> (V, V)) -> V {
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        var j = 0
        @inline(__always) func add(_ s: inout V, _ j: Int) { let (a, b) = term(j); s.addProduct(a, b) }
        while j + 4 <= n {
            add(&s0, j); add(&s1, j + 1); add(&s2, j + 2); add(&s3, j + 3)
            j += 4
        }
        while j < n { add(&s0, j); j += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// The weight of each value's squared error: given per value (nil: ones), or a row's
    /// `RowImportance`, computed from the transposed values themselves.
    enum LaneWeights {
        case given(UnsafePointer<Float>?)
        case importance(RowImportance)
    }

    /// Calls `body` with the 8 blocks of `n` weights from `x` (contiguous, as in a row)
    /// transposed into `n` vectors, and their weights likewise.
    @inline(__always)
    static func withLanes<R>(_ x: UnsafePointer<Float>, _ weights: LaneWeights, _ n: Int,
                             _ body: (UnsafeMutablePointer<V>, UnsafeMutablePointer<V>) -> R) -> R {
        // Two allocations of n vectors, not one of 2n: on Linux a temporary allocation above
        // 1 KiB comes from malloc (and this runs once per 8 blocks).
        withUnsafeTemporaryAllocation(of: V.self, capacity: n) { xb in
            withUnsafeTemporaryAllocation(of: V.self, capacity: n) { wb in
                let xt = xb.baseAddress!, wt = wb.baseAddress!
                transpose(x, n, into: xt)
                switch weights {
                case .given(let w?): transpose(w, n, into: wt)
                case .given(nil): wt.initialize(repeating: V(repeating: 1), count: n)
                case .importance(let r):
                    if let c = r.columns {
                        transpose(c, n, into: wt)
                        for j in 0..<n { wt[j] = r.base(xt[j]) * wt[j] }
                    } else {
                        for j in 0..<n { wt[j] = r.base(xt[j]) }
                    }
                }
                return body(xt, wt)
            }
        }
    }

    /// Per lane (block) of `n` transposed vectors: the first value of largest magnitude with
    /// its sign, and that magnitude (as `BlockExtremes.signedMax` for one block). Two halves
    /// scanned side by side (two dependency chains), merged so that the first half wins ties,
    /// as one scan in order would.
    @inline(__always)
    static func signedMax(_ xt: UnsafeMutablePointer<V>, _ n: Int) -> (amax: V, vmax: V) {
        var amax = V(), vmax = V(), amax2 = V(), vmax2 = V()
        let half = n / 2
        for j in 0..<half {
            let a = abs(xt[j]), c = a .> amax
            amax.replace(with: a, where: c)
            vmax.replace(with: xt[j], where: c)
            let a2 = abs(xt[half + j]), c2 = a2 .> amax2
            amax2.replace(with: a2, where: c2)
            vmax2.replace(with: xt[half + j], where: c2)
        }
        for j in (2 * half)..<n {
            let a = abs(xt[j]), c = a .> amax2
            amax2.replace(with: a, where: c)
            vmax2.replace(with: xt[j], where: c)
        }
        let second = amax2 .> amax
        amax.replace(with: amax2, where: second)
        vmax.replace(with: vmax2, where: second)
        return (amax, vmax)
    }

    /// Per lane of `n` transposed vectors: the smallest and largest value.
    @inline(__always)
    static func range(_ xt: UnsafeMutablePointer<V>, _ n: Int) -> (lo: V, hi: V) {
        var lo = xt[0], hi = xt[0]
        for j in 1..<n {
            lo.replace(with: xt[j], where: xt[j] .< lo)
            hi.replace(with: xt[j], where: xt[j] .> hi)
        }
        return (lo, hi)
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
    static func symmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: LaneWeights, qmin: Int, qmax: Int,
                          roundScale: Bool = true) -> V {
        withLanes(x, weights, n) { xt, wt in
            let (amax, vmax) = signedMax(xt, n)
            let live = amax .> 0
            let lo = V(repeating: Float(qmin)), hi = V(repeating: Float(qmax))
            // The best so far is passed inout: a nested function that captured these vars would
            // box them, and every access would pay a dynamic exclusivity check.
            var bestErr = V(repeating: .infinity), bestD = V()
            @inline(__always) func consider(_ d: V, _ bestErr: inout V, _ bestD: inout V) {
                let ds = roundScale ? f16(d) : d
                let ok = live .& finiteNonZero(ds)
                guard anyLane(ok) else { return }
                let inv = 1 / ds
                let err = sum4(n) { j in
                    let e = xt[j].addingProduct(-ds, ScaleSearch.clamp(ScaleSearch.round(xt[j] * inv), lo, hi))
                    return (wt[j] * e, e)
                }
                let better = ok .& (err .< bestErr)
                bestErr.replace(with: err, where: better)
                bestD.replace(with: ds, where: better)
            }
            ScaleSearch.symmetricDivisors(qmin: qmin, qmax: qmax) { consider(vmax / $0, &bestErr, &bestD) }
            for _ in 0..<2 {
                let inv = 1 / bestD
                var sxq = V(), sqq = V(), sxq2 = V(), sqq2 = V()
                var j = 0
                while j + 2 <= n {
                    let l = ScaleSearch.clamp(ScaleSearch.round(xt[j] * inv), lo, hi), l2 = ScaleSearch.clamp(ScaleSearch.round(xt[j + 1] * inv), lo, hi)
                    let wl = wt[j] * l, wl2 = wt[j + 1] * l2
                    sxq.addProduct(wl, xt[j]); sxq2.addProduct(wl2, xt[j + 1])
                    sqq.addProduct(wl, l); sqq2.addProduct(wl2, l2)
                    j += 2
                }
                if j < n {
                    let l = ScaleSearch.clamp(ScaleSearch.round(xt[j] * inv), lo, hi), wl = wt[j] * l
                    sxq.addProduct(wl, xt[j]); sqq.addProduct(wl, l)
                }
                sxq += sxq2; sqq += sqq2
                let ok = (bestD .!= 0) .& (sqq .> 0)
                guard anyLane(ok) else { break }
                consider((sxq / sqq).replacing(with: 0, where: .!ok), &bestErr, &bestD)
            }
            return bestD
        }
    }

    /// Asymmetric levels q ∈ [0, nmax], x̂ = d·q + m, for 8 blocks; returns (d, m) per block
    /// (f16-exact unless `roundScales` is false). Constant blocks get d = 0, m = their value.
    /// Q4_K's sub-blocks use it (unrounded, m ≤ 0); Q4_1/Q5_1 use `FittedSearch8`.
    @inline(__always)
    static func asymmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: LaneWeights, nmax: Int,
                           roundScales: Bool = true, maxMin: Float? = nil) -> (d: V, m: V) {
        withLanes(x, weights, n) { xt, wt in
            var (lo, hi) = range(xt, n)
            if let c = maxMin { lo.replace(with: V(repeating: c), where: V(repeating: c) .< lo) }
            let rnd: (V) -> V = roundScales ? f16 as (V) -> V : { $0 }
            let live = hi .> lo
            let top = V(repeating: Float(nmax)), zero = V()
            var bestErr = V(repeating: .infinity), bestD = V(), bestM = rnd(lo)
            @inline(__always) func consider(_ d0: V, _ m0: V, _ bestErr: inout V, _ bestD: inout V, _ bestM: inout V) {
                var m = rnd(m0)
                if let c = maxMin { m.replace(with: rnd(V(repeating: c)), where: m .> V(repeating: c)) }
                let d = rnd(d0)
                let ok = live .& (d .> 0) .& (d .< V(repeating: .infinity))
                guard anyLane(ok) else { return }
                let inv = 1 / d
                let err = sum4(n) { j in
                    let xm = xt[j] - m
                    let e = xm.addingProduct(-d, ScaleSearch.clamp(ScaleSearch.round(xm * inv), zero, top))
                    return (wt[j] * e, e)
                }
                let better = ok .& (err .< bestErr)
                bestErr.replace(with: err, where: better)
                bestD.replace(with: d, where: better)
                bestM.replace(with: m, where: better)
            }
            let range = hi - lo
            consider(range / Float(nmax), lo, &bestErr, &bestD, &bestM)
            for step in -4...4 where step != 0 {
                consider(range / (Float(nmax) + Float(step) * 0.15), lo, &bestErr, &bestD, &bestM)
            }
            for _ in 0..<3 {
                let inv = 1 / bestD
                var sw = V(), sq = V(), sqq = V(), sx = V(), sqx = V()
                for j in 0..<n {
                    let l = ScaleSearch.clamp(ScaleSearch.round((xt[j] - bestM) * inv), zero, top)
                    let w = wt[j], wl = w * l
                    sw += w; sq += wl; sqq.addProduct(wl, l); sx.addProduct(w, xt[j]); sqx.addProduct(wl, xt[j])
                }
                let fit = FittedSearch.leastSquares(sw: sw, sx: sx, sl: sq, sll: sqq, sxl: sqx)
                let ok = (bestD .> 0) .& (fit.det .> 0)
                guard anyLane(ok) else { break }
                var d = fit.d, m = fit.m
                if let c = maxMin {
                    let over = m .> V(repeating: c)
                    m.replace(with: V(repeating: c), where: over)
                    d.replace(with: (sqx - m * sq) / sqq, where: over .& (sqq .> 0))
                }
                consider(d.replacing(with: 0, where: .!ok), m, &bestErr, &bestD, &bestM)
            }
            return (bestD, bestM)
        }
    }
}

extension ScaleSearch8 {
    /// Searches 8 consecutive blocks of 32 symmetrically (`FittedSearch8` when `fitted`, else
    /// this direct search) and hands each block's scale and levels to `store` (block index, d, q).
    @inline(__always)
    static func symmetricBlocks(_ x: UnsafePointer<Float>, importance: RowImportance, qmin: Int, qmax: Int, fitted: Bool,
                                _ store: (Int, Float, UnsafePointer<Int8>) -> Void) {
        let d = fitted ? FittedSearch8.symmetric(x, 32, weights: .importance(importance), qmin: qmin, qmax: qmax)
            : symmetric(x, 32, weights: .importance(importance), qmin: qmin, qmax: qmax)
        let lo = V(repeating: Float(qmin)), hi = V(repeating: Float(qmax))
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            for b in 0..<8 {
                ScaleSearch.levels(x + 32 * b, 32, inv: d[b] != 0 ? 1 / d[b] : 0, lo: lo, hi: hi, into: q.baseAddress!)
                store(b, d[b], q.baseAddress!)
            }
        }
    }

    /// Searches 8 consecutive blocks of 32 asymmetrically (levels 0…nmax) with
    /// `FittedSearch8` and hands each block's (d, m) and levels to `store`.
    @inline(__always)
    static func asymmetricBlocks(_ x: UnsafePointer<Float>, importance: RowImportance, nmax: Int,
                                 _ store: (Int, Float, Float, UnsafePointer<UInt8>) -> Void) {
        let (d, m) = FittedSearch8.asymmetric(x, 32, weights: .importance(importance), nmax: nmax)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            for b in 0..<8 {
                ScaleSearch.asymmetricLevels(x + 32 * b, 32, d: d[b], m: m[b], nmax: nmax, into: q.baseAddress!)
                store(b, d[b], m[b], q.baseAddress!)
            }
        }
    }
}
