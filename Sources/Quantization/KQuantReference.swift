/// ggml's helpers for its k-quant reference quantizers (`ggml-quants.c`), transcribed operation
/// for operation so that `quantize_row_q5_K_ref`, `q3_K_ref` and `q2_K_ref` come out bit for bit:
/// every float expression keeps C's evaluation order (`w*l*l` is `(w·l)·l`), no fused
/// multiply-adds (ggml-base is built without -mfma), ints converted to float where C converts
/// them. Scalar on purpose: the order of additions is what makes the bytes equal.
enum KQuantReference {
    /// ggml's `nearest_int`: round to nearest, ties to even, through the bits of x + 1.5·2²³
    /// (|x| < 2²²).
    @inline(__always) static func nearestInt(_ x: Float) -> Int {
        let bits = Int32(bitPattern: (x + 12_582_912).bitPattern)
        return Int((bits & 0x007F_FFFF) - 0x0040_0000)
    }

    /// ggml's `GROUP_MAX_EPS`: a group whose largest |x| is below it is all zero.
    static let groupMaxEps: Float = 1e-15

    /// `make_qkx2_quants`: asymmetric levels 0…nmax with min ≤ 0 for `n` values, the scale and
    /// the min (returned negated, as ggml stores the amount subtracted) from a grid of nstep + 1
    /// candidate scales, each refitted by weighted least squares; `useMAD` weighs |error|
    /// instead of error². `L` gets the levels, `aux` is scratch of `n`.
    static func makeQkx2Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                               _ L: UnsafeMutablePointer<UInt8>, _ aux: UnsafeMutablePointer<UInt8>,
                               rmin: Float, rdelta: Float, nstep: Int, useMAD: Bool) -> (scale: Float, min: Float) {
        var mn = x[0], mx = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < mn { mn = x[i] }
            if x[i] > mx { mx = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if mn > 0 { mn = 0 }
        if mx == mn {
            for i in 0..<n { L[i] = 0 }
            return (0, -mn)
        }
        let fmax = Float(nmax)
        var iscale = fmax / (mx - mn)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = nearestInt(iscale * (x[i] - mn))
            L[i] = UInt8(Swift.max(0, Swift.min(nmax, l)))
            var diff = scale * Float(L[i]) + mn - x[i]
            diff = useMAD ? abs(diff) : diff * diff
            bestError += weights[i] * diff
        }
        if nstep < 1 { return (scale, -mn) }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + fmax) / (mx - mn)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - mn))))
                aux[i] = UInt8(l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var curError: Float = 0
                for i in 0..<n {
                    var diff = thisScale * Float(aux[i]) + thisMin - x[i]
                    diff = useMAD ? abs(diff) : diff * diff
                    curError += weights[i] * diff
                }
                if curError < bestError {
                    for i in 0..<n { L[i] = aux[i] }
                    bestError = curError
                    scale = thisScale
                    mn = thisMin
                }
            }
        }
        return (scale, -mn)
    }

    /// `make_q3_quants` with `do_rmse`: symmetric levels −nmax…nmax−1 (stored + nmax in `L`)
    /// from the signed extreme, then up to 5 passes moving single levels while the x²-weighted
    /// least-squares fit improves; returns that fit's scale.
    static func makeQ3Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>) -> Float {
        var mx: Float = 0, amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; mx = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let iscale = Float(-nmax) / mx
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i])))
            L[i] = Int8(l)
            let w = x[i] * x[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = x[i] * x[i], li = Float(L[i])
                var slx = sumlx - w * x[i] * li
                if slx > 0 {
                    var sl2 = suml2 - w * li * li
                    let newL = Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(x[i] * sl2 / slx)))
                    if newL != Int(L[i]) {
                        let fl = Float(newL)
                        slx += w * x[i] * fl
                        sl2 += w * fl * fl
                        if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[i] = Int8(newL); sumlx = slx; suml2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        for i in 0..<n { L[i] += Int8(nmax) }
        return suml2 > 0 ? sumlx / suml2 : 0
    }
}
