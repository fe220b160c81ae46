import TensorCore

/// Scale search for block quantizers: given a block of weights `x` (and optional importance
/// `w`), find integer levels q and scales minimising Σ w·(x − x̂)², with the scales rounded to
/// f16 as they will be stored. This is the idea of ggml's `make_qx_quants` / `make_qkx2_quants`
/// (try several candidate scales, then solve least squares for the levels chosen), applied to
/// the plain formats too, whose ggml reference simply divides by the maximum.
///
/// Blocks are 16 or 32 weights, held as 2 or 4 `SIMD8<Float>` (one AVX register each); every
/// candidate is evaluated without leaving registers. This direct search sums each candidate's
/// errors themselves, which Q8_0 needs (see `FittedSearch`, which the 4- and 5-bit formats
/// use); `ScaleSearch8` runs it on eight blocks side by side, and Q6_K's and Q4_K's sub-block
/// searches use that one.
enum ScaleSearch {
    typealias V = SIMD8<Float>

    @inline(__always) static func f16(_ v: Float) -> Float { Float(Float16(v)) }

    /// Round to nearest, ties to even, lane-wise (one `vroundps`; ggml's `nearest_int` differs
    /// only at exact halves, where both levels have the same error).
    @inline(__always) static func round(_ v: V) -> V { v.rounded(.toNearestOrEven) }

    /// Lane-wise clamp (lo ≤ hi; a NaN lane becomes lo). Written lane by lane as ternaries,
    /// which LLVM turns into one `vmaxps` and one `vminps`. The stdlib's `clamped` calls
    /// unspecialised `pointwiseMin`/`pointwiseMax` here, and `replacing(with:where:)` stays a
    /// compare and a blend per bound unless the bounds are constants.
    @inline(__always) static func clamp(_ v: V, _ lo: V, _ hi: V) -> V {
        var r = V()
        for i in 0..<V.scalarCount {
            let a = v[i] > lo[i] ? v[i] : lo[i]
            r[i] = a < hi[i] ? a : hi[i]
        }
        return r
    }

    /// Loads `n` (16 or 32) floats and weights (ones when nil) into vectors and runs `body`.
    @inline(__always)
    static func withVectors<R>(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ n: Int,
                               _ body: (UnsafeMutablePointer<V>, UnsafeMutablePointer<V>, Int) -> R) -> R {
        let nv = n / 8
        return withUnsafeTemporaryAllocation(of: V.self, capacity: 8) { buf in
            let xv = buf.baseAddress!, wv = xv + 4
            let xr = UnsafeRawPointer(x)
            for k in 0..<nv {
                xv[k] = xr.loadUnaligned(fromByteOffset: 32 * k, as: V.self)
                wv[k] = w.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: 32 * k, as: V.self) } ?? V(repeating: 1)
            }
            return body(xv, wv, nv)
        }
    }

    /// The candidate scales of the symmetric search are vmax / each of these, in this order:
    /// the signed extreme mapped to qmin (ggml's reference), then near qmin and near qmax in
    /// quarter steps — 10 candidates. One list for the one-block and the 8-block search.
    @inline(__always)
    static func symmetricDivisors(qmin: Int, qmax: Int, _ body: (Float) -> Void) {
        body(Float(qmin))
        for step in -2...2 {
            let t = Float(step) * 0.25
            if step != 0 { body(Float(qmin) - t) }   // step 0 is the first candidate
            body(Float(qmax) + t)
        }
    }

    /// Symmetric levels q ∈ [qmin, qmax], x̂ = d·q. Returns d (f16-exact unless `roundScale`
    /// is false) and writes q.
    static func symmetric(_ x: UnsafePointer<Float>, _ n: Int, weights: UnsafePointer<Float>?,
                          qmin: Int, qmax: Int, levels q: UnsafeMutablePointer<Int8>, roundScale: Bool = true) -> Float {
        let (amax, vmax) = BlockExtremes.signedMax(x, n)
        guard amax > 0 else {
            for i in 0..<n { q[i] = 0 }
            return 0
        }
        let lo = V(repeating: Float(qmin)), hi = V(repeating: Float(qmax))
        let best: Float = withVectors(x, weights, n) { xv, wv, nv in
            // The best so far is passed inout (captured vars would be boxed, with a dynamic
            // exclusivity check on every access).
            var bestErr = Float.infinity
            var bestD: Float = 0
            func consider(_ d: Float, _ bestErr: inout Float, _ bestD: inout Float) {
                let ds = roundScale ? f16(d) : d
                guard ds != 0, ds.isFinite else { return }
                let e = symmetricError(xv, wv, nv, ds, lo, hi)
                if e < bestErr { bestErr = e; bestD = ds }
            }
            // The extreme value maps near the negative end (as ggml's reference does) or near the
            // positive end; then least-squares refits of the scale for the levels chosen.
            ScaleSearch.symmetricDivisors(qmin: qmin, qmax: qmax) { consider(vmax / $0, &bestErr, &bestD) }
            for _ in 0..<2 {
                guard bestD != 0, let d = symmetricRefit(xv, wv, nv, bestD, lo, hi) else { break }
                consider(d, &bestErr, &bestD)
            }
            return bestD
        }
        levels(x, n, inv: best != 0 ? 1 / best : 0, lo: lo, hi: hi, into: q)
        return best
    }

    /// Levels clamp(round(x·inv), lo, hi) of `n` weights (a multiple of 8, as for every
    /// search) as Int8, 8 lanes at a time with the rounding the error evaluation uses (a scalar
    /// `rounded()` is a libm call per weight).
    @inline(__always)
    static func levels(_ x: UnsafePointer<Float>, _ n: Int, inv: Float, lo: V, hi: V, into q: UnsafeMutablePointer<Int8>) {
        let iv = V(repeating: inv)
        for k in stride(from: 0, to: n, by: 8) {
            ReferenceLevels.storeLowBytes(ExactIntegers.rounded(round(UnsafeRawPointer(x + k).loadUnaligned(as: V.self) * iv).clampedTo(lo, hi)), to: q + k)
        }
    }

    /// Levels clamp(round((x − m)/d), 0, nmax) of `n` weights (a multiple of 8) as UInt8, with
    /// the rounding the error evaluation uses; all 0 when d is 0.
    @inline(__always)
    static func asymmetricLevels(_ x: UnsafePointer<Float>, _ n: Int, d: Float, m: Float, nmax: Int, into q: UnsafeMutablePointer<UInt8>) {
        let iv = V(repeating: d > 0 ? 1 / d : 0), mv = V(repeating: m), top = V(repeating: Float(nmax))
        for k in stride(from: 0, to: n, by: 8) {
            let v = (UnsafeRawPointer(x + k).loadUnaligned(as: V.self) - mv) * iv
            ReferenceLevels.storeLowBytes(ExactIntegers.rounded(round(v).clampedTo(V(), top)), to: q + k)
        }
    }
}

extension ScaleSearch {
    /// Σ w·(x − d·clamp(round(x/d)))² over `nv` vectors.
    @inline(__always)
    static func symmetricError(_ xv: UnsafeMutablePointer<V>, _ wv: UnsafeMutablePointer<V>, _ nv: Int, _ d: Float, _ lo: V, _ hi: V) -> Float {
        let inv = V(repeating: 1 / d), dv = V(repeating: d)
        var err = V(repeating: 0)
        for k in 0..<nv {
            let l = round(xv[k] * inv).clampedTo(lo, hi)
            let e = xv[k] - dv * l
            err += wv[k] * e * e
        }
        return err.total
    }

    /// Least-squares scale for the levels that scale `d` picks.
    @inline(__always)
    static func symmetricRefit(_ xv: UnsafeMutablePointer<V>, _ wv: UnsafeMutablePointer<V>, _ nv: Int, _ d: Float, _ lo: V, _ hi: V) -> Float? {
        let inv = V(repeating: 1 / d)
        var sxq = V(repeating: 0), sqq = V(repeating: 0)
        for k in 0..<nv {
            let l = round(xv[k] * inv).clampedTo(lo, hi)
            sxq += wv[k] * xv[k] * l
            sqq += wv[k] * l * l
        }
        let qq = sqq.total
        return qq > 0 ? sxq.total / qq : nil
    }
}

extension SIMD8<Float> {
    /// Pairwise horizontal sum (the stdlib's `sum()` adds lane by lane, in order).
    @inline(__always) var total: Float {
        let h = lowHalf + highHalf
        let q = h.lowHalf + h.highHalf
        return q[0] + q[1]
    }

    @inline(__always) func clampedTo(_ lo: Self, _ hi: Self) -> Self { ScaleSearch.clamp(self, lo, hi) }
}
