/// The super-block scale of a k-quant (Q3_K, Q2_K: 16 sub-blocks; Q4_K, Q5_K: 8, the other
/// lanes zero with zero weight): d such that the sub-blocks'
/// scales (or mins) v_j are stored as integers q_j in lo…hi with v_j ≈ d·q_j, chosen to minimise
/// Σ sw_j (v_j − d·q_j)², sw_j the sub-block's total weight — the criterion of ggml's
/// importance-weighted quantizers (`make_qx_quants`/`make_qp_quants` on the scales). Candidates:
/// the extreme mapped to `top` ± 0.1·k (k = 1…9), then two least-squares refits; every d is
/// f16-rounded, as stored, before it is scored. The searches try it beside the extreme mapped to
/// `top` exactly (what the reference does) and keep the better block.
enum SuperScale {
    static func fit(_ v: SIMD16<Float>, weights sw: SIMD16<Float>, extreme: Float, top: Float, lo: Float, hi: Float) -> Float {
        guard extreme != 0, extreme.isFinite else { return 0 }
        // Clamped lane by lane, as `ScaleSearch.clamp`: the stdlib's `clamped` calls unspecialised
        // `pointwiseMin`/`pointwiseMax` here, a third of a Q3_K quantization's time.
        @inline(__always) func levels(_ d: Float) -> SIMD16<Float> {
            let q = (v / SIMD16(repeating: d)).rounded(.toNearestOrEven)
            var r = SIMD16<Float>()
            for i in 0..<16 {
                let a = q[i] > lo ? q[i] : lo
                r[i] = a < hi ? a : hi
            }
            return r
        }
        @inline(__always) func error(_ d: Float) -> Float {
            let r = v - SIMD16(repeating: d) * levels(d)
            return (sw * r * r).sum()
        }
        var bestD = ScaleSearch.f16(extreme / top), bestE = error(bestD)
        @inline(__always) func consider(_ d0: Float) {
            let d = ScaleSearch.f16(d0)
            guard d != 0, d.isFinite else { return }
            let e = error(d)
            if e < bestE { bestE = e; bestD = d }
        }
        for k in 1...9 {
            consider(extreme / (top + 0.1 * Float(k)))
            consider(extreme / (top - 0.1 * Float(k)))
        }
        for _ in 0..<2 {
            let l = levels(bestD)
            let sll = (sw * l * l).sum()
            guard sll > 0 else { break }
            consider((sw * v * l).sum() / sll)
        }
        return bestD
    }
}
