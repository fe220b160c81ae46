import TensorCore

/// Scale search for block quantizers: given a block of weights `x` (and optional importance
/// `w`), find integer levels q and scales minimising Σ w·(x − x̂)², with the scales rounded to
/// f16 as they will be stored. This is the idea of ggml's `make_qx_quants` / `make_qkx2_quants`
/// (try several candidate scales, then solve least squares for the levels chosen), applied to
/// the plain formats too, whose ggml reference simply divides by the maximum.
enum ScaleSearch {
    @inline(__always) static func f16(_ v: Float) -> Float { Float(Float16(v)) }

    /// Symmetric levels q ∈ [qmin, qmax], x̂ = d·q. Returns d (f16-exact) and writes q.
    /// Every candidate includes ggml's own choice (d = vmax / qmin), so the result is never
    /// worse than the reference on the block's weighted error.
    static func symmetric(_ x: UnsafePointer<Float>, _ n: Int, weights w: UnsafePointer<Float>?,
                          qmin: Int, qmax: Int, levels q: UnsafeMutablePointer<Int8>, roundScale: Bool = true) -> Float {
        var amax: Float = 0, vmax: Float = 0
        for i in 0..<n where abs(x[i]) > amax { amax = abs(x[i]); vmax = x[i] }
        guard amax > 0 else {
            for i in 0..<n { q[i] = 0 }
            return 0
        }
        var bestErr = Float.infinity
        var bestD: Float = 0
        var trial = [Int8](repeating: 0, count: n)
        func evaluate(_ d: Float) {
            let d16 = roundScale ? f16(d) : d
            guard d16 != 0, d16.isFinite else { return }
            let inv = 1 / d16
            var err: Float = 0
            for i in 0..<n {
                let l = Int8(clamping: min(max(Int((x[i] * inv).rounded()), qmin), qmax))
                trial[i] = l
                let e = x[i] - d16 * Float(l)
                err += (w?[i] ?? 1) * e * e
            }
            if err < bestErr {
                bestErr = err
                bestD = d16
                for i in 0..<n { q[i] = trial[i] }
            }
        }
        /// Least-squares scale for the current best levels.
        func refit() -> Float? {
            var sxq: Float = 0, sqq: Float = 0
            for i in 0..<n {
                let wi = w?[i] ?? 1
                sxq += wi * x[i] * Float(q[i])
                sqq += wi * Float(q[i]) * Float(q[i])
            }
            return sqq > 0 ? sxq / sqq : nil
        }
        // The extreme value maps to the negative end (as ggml does) or the positive end,
        // stretched or shrunk a little; then two least-squares refinements.
        evaluate(vmax / Float(qmin))
        for step in -10...10 {
            let t = Float(step) * 0.1
            evaluate(vmax / (Float(qmin) - t))
            evaluate(vmax / (Float(qmax) + t))
        }
        for _ in 0..<2 {
            guard let d = refit() else { break }
            evaluate(d)
        }
        return bestD
    }

    /// Asymmetric levels q ∈ [0, nmax], x̂ = d·q + m. Returns (d, m) (f16-exact) and writes q.
    /// `maxMin`: when set, m is constrained to ≤ it (Q4_K stores a non-negative min subtracted).
    static func asymmetric(_ x: UnsafePointer<Float>, _ n: Int, weights w: UnsafePointer<Float>?, nmax: Int,
                           levels q: UnsafeMutablePointer<UInt8>, roundScales: Bool = true, maxMin: Float? = nil) -> (Float, Float) {
        var lo = x[0], hi = x[0]
        for i in 1..<n { lo = min(lo, x[i]); hi = max(hi, x[i]) }
        if let c = maxMin { lo = min(lo, c) }
        let round: (Float) -> Float = roundScales ? f16 : { $0 }
        guard hi > lo else {
            for i in 0..<n { q[i] = 0 }
            return (0, round(lo))
        }
        var bestErr = Float.infinity
        var best: (Float, Float) = (0, lo)
        var trial = [UInt8](repeating: 0, count: n)
        func evaluate(_ d0: Float, _ m0: Float) {
            var m = round(m0)
            if let c = maxMin, m > c { m = round(c) }
            let d = round(d0)
            guard d > 0, d.isFinite else { return }
            let inv = 1 / d
            var err: Float = 0
            for i in 0..<n {
                let l = UInt8(min(max(Int(((x[i] - m) * inv).rounded()), 0), nmax))
                trial[i] = l
                let e = x[i] - (d * Float(l) + m)
                err += (w?[i] ?? 1) * e * e
            }
            if err < bestErr {
                bestErr = err
                best = (d, m)
                for i in 0..<n { q[i] = trial[i] }
            }
        }
        func refit() -> (Float, Float)? {
            var sw: Float = 0, sq: Float = 0, sqq: Float = 0, sx: Float = 0, sqx: Float = 0
            for i in 0..<n {
                let wi = w?[i] ?? 1, l = Float(q[i])
                sw += wi; sq += wi * l; sqq += wi * l * l; sx += wi * x[i]; sqx += wi * l * x[i]
            }
            let det = sw * sqq - sq * sq
            guard det > 0 else { return nil }
            var d = (sw * sqx - sq * sx) / det
            var m = (sqq * sx - sq * sqx) / det
            if let c = maxMin, m > c {
                // Constrained: fix m at the bound and refit d alone.
                m = c
                d = sqq > 0 ? (sqx - m * sq) / sqq : d
            }
            return (d, m)
        }
        let range = hi - lo
        evaluate(range / Float(nmax), lo)
        for step in -3...3 where step != 0 {
            let t = Float(step) * 0.2
            evaluate(range / (Float(nmax) + t), lo)
        }
        for _ in 0..<3 {
            guard let (d, m) = refit() else { break }
            evaluate(d, m)
        }
        return best
    }
}
