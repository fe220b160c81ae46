/// The scale search of ggml's non-linear 4-bit formats (IQ4_NL, IQ4_XS: 4-bit indices into the
/// fixed 16-value table `kvalues_iq4nl`), for eight 32-weight blocks side by side: lane b of
/// every vector is block b (or sub-block b of one IQ4_XS super-block), and the sums over a
/// block's weights run in order within the lane, so a lane computes exactly what ggml's
/// `quantize_row_iq4_nl_impl` computes for one block (the same float operations in the same
/// order: no fused multiply-adds, no reassociation). `GGMLReferenceTests` holds the result to
/// the bytes of ggml's own `quantize_iq4_nl` / `quantize_iq4_xs`.
enum NonLinearSearch {
    typealias V = SIMD8<Float>
    typealias I = SIMD8<Int32>

    /// ggml's `kvalues_iq4nl` (computed, not stored: a stored static costs a once-check per use).
    @inline(__always) static var table: SIMD16<Int8> {
        SIMD16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113)
    }
    @inline(__always) static func value(_ k: Int) -> Float { Float(table[k]) }

    /// The midpoint between table entries k − 1 and k, where ggml's choice turns to entry k
    /// (the values `IQ4Tests` probes `nearest` around).
    static func midpoint(_ k: Int) -> Float { (value(k - 1) + value(k)) / 2 }

    /// ggml's `best_index_int8(16, kvalues_iq4nl, a)` lane by lane, and the table value there:
    /// the last entry ≤ a (the binary search's lower bound) found by 14 comparisons against the
    /// sorted table, then the same tie rule, `a − lo < hi − a` in float, else the upper one.
    /// (Counting midpoints ≤ a with masked adds gives the same levels but ran 1.6× slower: the
    /// adds form one chain of dependent float additions, the blends here do not.)
    @inline(__always) static func nearest(_ a: V) -> (index: I, value: V) {
        var lo = V(repeating: value(0)), hi = V(repeating: value(1)), idx = I()
        for k in 1..<15 {
            let m = a .>= V(repeating: value(k))
            lo.replace(with: value(k), where: m)
            hi.replace(with: value(k + 1), where: m)
            idx.replace(with: Int32(k), where: m)
        }
        let up = .!((a - lo) .< (hi - a))
        idx.replace(with: idx &+ 1, where: up)
        lo.replace(with: hi, where: up)
        return (idx, lo)
    }

    /// The table value nearest a (as `nearest`, without the index).
    @inline(__always) static func nearestValue(_ a: V) -> V {
        var lo = V(repeating: value(0)), hi = V(repeating: value(1))
        for k in 1..<15 {
            let m = a .>= V(repeating: value(k))
            lo.replace(with: value(k), where: m)
            hi.replace(with: value(k + 1), where: m)
        }
        return lo.replacing(with: hi, where: .!((a - lo) .< (hi - a)))
    }

    /// ggml's `best_index_int8` itself, for one value (what the lane forms are tested against).
    static func bestIndex(_ x: Float) -> Int {
        if x <= value(0) { return 0 }
        if x >= value(15) { return 15 }
        var ml = 0, mu = 15
        while mu - ml > 1 {
            let mav = (ml + mu) / 2
            if x < value(mav) { mu = mav } else { ml = mav }
        }
        return x - value(mu - 1) < value(mu) - x ? mu - 1 : mu
    }

    /// ggml's Σ w·q·x and Σ w·q² over a block for the levels nearest id·x, in ggml's order:
    /// sumqx += (w·q)·x, sumq2 += (w·q)·q, weight by weight.
    @inline(__always) static func sums(_ xt: UnsafePointer<V>, _ wt: UnsafePointer<V>, id: V) -> (qx: V, q2: V) {
        var qx = V(), q2 = V()
        for j in 0..<32 {
            let q = nearestValue(id * xt[j])
            let wq = wt[j] * q
            qx = qx + wq * xt[j]
            q2 = q2 + wq * q
        }
        return (qx, q2)
    }

    /// Per lane: the first value of largest magnitude, with its sign, and that magnitude (ggml's
    /// `if (ax > amax)` scan in order).
    @inline(__always) static func signedMax(_ xt: UnsafePointer<V>) -> (amax: V, max: V) {
        var amax = V(), mx = V()
        for j in 0..<32 {
            let a = ScaleSearch8.abs(xt[j]), c = a .> amax
            amax.replace(with: a, where: c)
            mx.replace(with: xt[j], where: c)
        }
        return (amax, mx)
    }

    /// ggml's per-block scale (`quantize_row_iq4_nl_impl`'s first loop, ntry > 0): the extreme
    /// mapped to +127 with a least-squares refit, then the extreme mapped to −127 + t for
    /// t = −ntry … ntry, each refitted, the best Σwqx²/Σwq² kept. 0 where max|x| < 1e-15.
    /// `extra` adds further candidate inverse scales (as multiples of 1/max) to the same
    /// competition (the search mode's; ggml's reference has none).
    @inline(__always)
    static func ggmlScales(_ xt: UnsafePointer<V>, _ wt: UnsafePointer<V>, ntry: Int, extra: [Float] = []) -> V {
        let (amax, mx) = signedMax(xt)
        let live = amax .>= V(repeating: 1e-15)
        let m = mx.replacing(with: 1, where: .!live)
        var d = (-m) / V(repeating: value(0))
        let (qx, q2) = sums(xt, wt, id: 1 / d)
        d = (qx / q2).replacing(with: 0, where: .!(q2 .> 0))
        var best = d * qx
        @inline(__always) func consider(_ id: V) {
            let (a, b) = sums(xt, wt, id: id)
            let better = (b .> 0) .& (a * a .> best * b)
            let nd = a / b
            d.replace(with: nd, where: better)
            best.replace(with: nd * a, where: better)
        }
        for t in -ntry...ntry { consider(V(repeating: Float(t + Int(table[0]))) / m) }
        for c in extra { consider(V(repeating: c) / m) }
        return d.replacing(with: 0, where: .!live)
    }

    /// The levels nearest x·id for each lane, into `levels` (block b's 32 at 32·b), as ggml
    /// writes them (`best_index_int8(16, values, id*x[j])`).
    @inline(__always) static func levels(_ xt: UnsafePointer<V>, id: V, into levels: UnsafeMutablePointer<UInt8>) {
        for j in 0..<32 {
            let (q, _) = nearest(id * xt[j])
            for b in 0..<8 { levels[32 * b + j] = UInt8(truncatingIfNeeded: q[b]) }
        }
    }

    /// Σ w·(x − D·v(q))² per lane for the stored scale D and the levels nearest x/D (which
    /// are the best levels for D), computed with the reciprocal `id` as stored blocks are.
    @inline(__always) static func error(_ xt: UnsafePointer<V>, _ wt: UnsafePointer<V>, scale D: V, id: V) -> V {
        var e0 = V(), e1 = V()
        for j in stride(from: 0, to: 32, by: 2) {
            let a = xt[j] - D * nearestValue(id * xt[j]), b = xt[j + 1] - D * nearestValue(id * xt[j + 1])
            e0 += wt[j] * a * a
            e1 += wt[j + 1] * b * b
        }
        return e0 + e1
    }

    /// 1/d where d ≠ 0, else 0 (ggml's `d ? 1/d : 0`).
    @inline(__always) static func reciprocal(_ d: V) -> V {
        let nz = d .!= 0
        return (1 / d.replacing(with: 1, where: .!nz)).replacing(with: 0, where: .!nz)
    }

    /// Inverse-scale multiples the search mode tries beyond ggml's (ggml maps the extreme to
    /// −127 + t, t = −7…7, and once to +127): the extreme mapped to the positive end of the
    /// table, 113 + t, and half steps between ggml's negative candidates.
    static let searchExtra: [Float] = (-7...7).map { Float(113 + $0) } + stride(from: -7.5, through: 7.5, by: 1).map { Float(-127 + $0) }

    /// The search mode's scale for 32-weight blocks (IQ4_NL) as stored (f16), and the inverse
    /// scale its levels are taken with: ggml's candidates and `searchExtra` under the search's
    /// weights, then the best of that scale rounded to f16 and its least-squares refits (twice),
    /// each with the best levels for it, by weighted error with the scale as stored. The block
    /// ggml's reference writes (scale f16(`reference`), levels from 1/`reference`) is the first
    /// candidate, so the result is never worse than it under these weights.
    @inline(__always)
    static func searchScales(_ xt: UnsafePointer<V>, _ wt: UnsafePointer<V>, reference: V) -> (scale: V, id: V) {
        var bestD = ScaleSearch8.f16(reference), bestId = reciprocal(reference)
        var bestErr = error(xt, wt, scale: bestD, id: bestId)
        @inline(__always) func consider(_ d: V) {
            let D = ScaleSearch8.f16(d), id = reciprocal(D)
            let e = error(xt, wt, scale: D, id: id)
            let better = (e .< bestErr) .& (ScaleSearch8.abs(D) .< V(repeating: .infinity))
            bestErr.replace(with: e, where: better)
            bestD.replace(with: D, where: better)
            bestId.replace(with: id, where: better)
        }
        consider(ggmlScales(xt, wt, ntry: 7, extra: searchExtra))
        for _ in 0..<2 {
            let id = reciprocal(bestD)
            var qx = V(), q2 = V()
            for j in 0..<32 {
                let q = nearestValue(id * xt[j]), wq = wt[j] * q
                qx += wq * xt[j]; q2 += wq * q
            }
            consider((qx / q2).replacing(with: 0, where: .!(q2 .> 0)))
        }
        return (bestD, bestId)
    }
}
