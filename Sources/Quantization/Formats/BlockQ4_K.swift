import TensorCore

/// Q4_K: 256 weights in 8 sub-blocks of 32 = f16 d + f16 dmin + 12 bytes of packed 6-bit
/// sub-scales and sub-mins + 128 bytes of nibbles; w = d·sc·q − dmin·m. 144 bytes, 4.5 bpw.
/// Rows that are not a multiple of 256 end in Q4_1 blocks (DType.tailType).
package enum BlockQ4_K: BlockFormat {
    package static let dtype = DType.q4_k
    package static let layoutBytes = 2 + 2 + 12 + 128   // f16 d, f16 dmin, 12 B packed 6-bit scales/mins, 128 B nibbles

    /// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j`.
    @inline(__always)
    static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (UInt8, UInt8) {
        func b(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
        return ((b(j + 4) & 0x0F) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4))
    }

    /// All eight sub-blocks' (scale, min) pairs of `scaleMin`, as floats in lanes 0…7.
    @inline(__always)
    static func scalesAndMins(_ q: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>) {
        // Bytes 0…3: scales 0…3 (low 6 bits), high 2 bits → scales 4…7; bytes 4…7 the same for
        // the mins; bytes 8…11: low nibble → scales 4…7, high nibble → mins 4…7.
        let a = SIMD4<UInt32>(truncatingIfNeeded: q.loadUnaligned(as: SIMD4<UInt8>.self))
        let b = SIMD4<UInt32>(truncatingIfNeeded: q.loadUnaligned(fromByteOffset: 4, as: SIMD4<UInt8>.self))
        let c = SIMD4<UInt32>(truncatingIfNeeded: q.loadUnaligned(fromByteOffset: 8, as: SIMD4<UInt8>.self))
        let scales = SIMD8<UInt32>(lowHalf: a & 63, highHalf: (c & 0x0F) | ((a &>> 6) &<< 4))
        let mins = SIMD8<UInt32>(lowHalf: b & 63, highHalf: (c &>> 4) | ((b &>> 6) &<< 4))
        // (The generic SIMD8<Float>(SIMD8<UInt32>) is an out-of-line call here.)
        return (ExactIntegers.float(unsafeBitCast(scales, to: SIMD8<Int32>.self)),
                ExactIntegers.float(unsafeBitCast(mins, to: SIMD8<Int32>.self)))
    }

    /// Eight lanes at a time (bit-identical with `dequantizeScalar`: the same operations).
    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let d = loadHalf(block, 0)
        let dmin = loadHalf(block, 2)
        let yr = UnsafeMutableRawPointer(out)
        for c in 0..<4 {
            let (sc1, m1) = scaleMin(2 * c, block + 4)
            let (sc2, m2) = scaleMin(2 * c + 1, block + 4)
            let d1 = V(repeating: d * Float(sc1)), mm1 = V(repeating: dmin * Float(m1))
            let d2 = V(repeating: d * Float(sc2)), mm2 = V(repeating: dmin * Float(m2))
            let q = block + 16 + 32 * c
            for l in stride(from: 0, to: 32, by: 8) {
                let b = Widen.bytes8(q + l)
                yr.storeBytes(of: d1 * ExactIntegers.float(b & 0x0F) - mm1, toByteOffset: 4 * (64 * c + l), as: V.self)
                yr.storeBytes(of: d2 * ExactIntegers.float(b &>> 4) - mm2, toByteOffset: 4 * (64 * c + 32 + l), as: V.self)
            }
        }
    }

    /// ggml's `dequantize_row_q4_K`, one weight at a time (`KQuantDequantTests` holds the SIMD form to it).
    static func dequantizeScalar(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let dmin = loadHalf(block, 2)
        let scales = block + 4
        var q = block + 16
        var y = out
        var s = 0
        for _ in 0..<4 {
            let (sc1, m1) = scaleMin(s, scales)
            let (sc2, m2) = scaleMin(s + 1, scales)
            let d1 = d * Float(sc1), mm1 = dmin * Float(m1)
            let d2 = d * Float(sc2), mm2 = dmin * Float(m2)
            for l in 0..<32 { y[l] = d1 * Float(q.load(fromByteOffset: l, as: UInt8.self) & 0x0F) - mm1 }
            for l in 0..<32 { y[l + 32] = d2 * Float(q.load(fromByteOffset: l, as: UInt8.self) >> 4) - mm2 }
            q += 32
            y += 64
            s += 2
        }
    }

    /// Packs d, dmin, the 8 (scale, min) pairs and 256 levels (ggml's layout).
    static func pack(d: Float, dmin: Float, ls: SIMD8<UInt8>, lm: SIMD8<UInt8>, levels L: UnsafePointer<UInt8>, into block: UnsafeMutableRawPointer) {
        storeHalf(block, 0, d)
        storeHalf(block, 2, dmin)
        packScales(ls: ls, lm: lm, into: block + 4)
        for j in 0..<4 {
            for l in 0..<32 {
                block.storeBytes(of: L[64 * j + l] | (L[64 * j + l + 32] << 4), toByteOffset: 16 + 32 * j + l, as: UInt8.self)
            }
        }
    }

    /// The 12 bytes of eight 6-bit (scale, min) pairs, as `scaleMin` reads them (shared with Q5_K).
    static func packScales(ls: SIMD8<UInt8>, lm: SIMD8<UInt8>, into p: UnsafeMutableRawPointer) {
        var sc = SIMD16<UInt8>()
        for j in 0..<8 {
            if j < 4 {
                sc[j] = ls[j]
                sc[j + 4] = lm[j]
            } else {
                sc[j + 4] = (ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4)
                sc[j - 4] |= (ls[j] >> 4) << 6
                sc[j] |= (lm[j] >> 4) << 6
            }
        }
        for i in 0..<12 { p.storeBytes(of: sc[i], toByteOffset: i, as: UInt8.self) }
    }

    /// Shared by both modes: the 8 sub-blocks' (scale, min) from `fits` (one per lane), then
    /// 6-bit quantization of those against the super-block scales, then levels for the
    /// quantized scales.
    static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer,
                         refine: Bool, fits: () -> (d: SIMD8<Float>, m: SIMD8<Float>)) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { Lp in
            let (d, dmin, ls, lm) = subScales(x, weights: weights, nmax: 15, refine: refine, levels: Lp.baseAddress!, fits: fits)
            pack(d: d, dmin: dmin, ls: ls, lm: lm, levels: Lp.baseAddress!, into: block)
        }
    }

    /// The part of `quantize` before packing, for levels 0…nmax (15 here, 31 for Q5_K): the
    /// super-block scales d and dmin, the 6-bit scales and mins, the 256 levels into `levels`.
    /// Super-scales: the largest scale and min mapped to 63 (as ggml's reference) and, with
    /// `refine`, also the weighted fits of all eight (`SuperScale`, the criterion of ggml's
    /// `make_qp_quants`); each gets its 6-bit values and levels, the lower total error is kept.
    @inline(__always)
    static func subScales(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, nmax: Int, refine: Bool = true, levels Lout: UnsafeMutablePointer<UInt8>,
                          fits: () -> (d: SIMD8<Float>, m: SIMD8<Float>)) -> (Float, Float, SIMD8<UInt8>, SIMD8<UInt8>) {
        // Vectors and stack memory, not arrays: three to six small arrays per super-block cost a
        // heap allocation and a generic-metadata lookup each.
        let (scales, fm) = fits()
        let mins = -fm      // ggml stores the (non-negative) amount subtracted
        var maxScale = scales[0], maxMin = mins[0]
        for j in 1..<8 { maxScale = max(maxScale, scales[j]); maxMin = max(maxMin, mins[j]) }
        let d0 = ScaleSearch.f16(maxScale / 63), dmin0 = ScaleSearch.f16(maxMin / 63)
        // Levels of sub-block j for 6-bit scale s and min m (nearest, ties to even, in 0…nmax) and
        // their weighted error, four vectors of 8 (a scalar `rounded()` is a libm call).
        func levels(_ j: Int, _ d: Float, _ dmin: Float, _ s: UInt8, _ m: UInt8, into out: UnsafeMutablePointer<UInt8>) -> Float {
            typealias V = SIMD8<Float>
            let D = d * Float(s), M = dmin * Float(m)
            let Dv = V(repeating: D), Mv = V(repeating: M), top = V(repeating: Float(nmax))
            var err = V()
            for k in stride(from: 0, to: 32, by: 8) {
                let v = UnsafeRawPointer(x + 32 * j + k).loadUnaligned(as: V.self)
                let l = D > 0 ? ScaleSearch.clamp(((v + Mv) / Dv).rounded(.toNearestOrEven), V(), top) : V()
                ReferenceLevels.storeLowBytes(ExactIntegers.rounded(l), to: out + k)
                let e = v - (Dv * l - Mv)
                let w = weights.map { UnsafeRawPointer($0 + 32 * j + k).loadUnaligned(as: V.self) } ?? V(repeating: 1)
                err += w * e * e
            }
            return err.total
        }
        // The 6-bit scales and mins for super-scales d, dmin, their levels into L, the total error.
        func attempt(_ d: Float, _ dmin: Float, into L: UnsafeMutablePointer<UInt8>) -> (Float, SIMD8<UInt8>, SIMD8<UInt8>) {
            var ls = SIMD8<UInt8>(), lm = SIMD8<UInt8>(), total: Float = 0
            for j in 0..<8 {
                ls[j] = d > 0 ? UInt8(min(63, max(0, Int((scales[j] / d).rounded())))) : 0
                lm[j] = dmin > 0 ? UInt8(min(63, max(0, Int((mins[j] / dmin).rounded())))) : 0
            }
            for j in 0..<8 {
                let best = levels(j, d, dmin, ls[j], lm[j], into: L + 32 * j)
                guard refine else { total += best; continue }
                // The 6-bit rounding of scale and min moved the optimum: try the eight
                // neighbours, one per lane; the first strictly better one in (ds, dm) order wins.
                let errors = neighbourErrors(x + 32 * j, weights.map { $0 + 32 * j }, d: d, dmin: dmin, s: Int(ls[j]), m: Int(lm[j]), nmax: nmax)
                var bestLane = -1, bestErr = best
                for lane in 0..<8 where errors[lane] < bestErr { bestErr = errors[lane]; bestLane = lane }
                if bestLane >= 0 {
                    ls[j] = UInt8(Int(ls[j]) + Int(Self.neighbourDS[bestLane]))
                    lm[j] = UInt8(Int(lm[j]) + Int(Self.neighbourDM[bestLane]))
                    _ = levels(j, d, dmin, ls[j], lm[j], into: L + 32 * j)
                }
                total += bestErr
            }
            return (total, ls, lm)
        }
        let first = attempt(d0, dmin0, into: Lout)
        guard refine else { return (d0, dmin0, first.1, first.2) }
        var sw = SIMD16<Float>()
        for j in 0..<8 {
            if let weights { for l in 0..<32 { sw[j] += weights[32 * j + l] } } else { sw[j] = 32 }
        }
        func widen(_ v: SIMD8<Float>) -> SIMD16<Float> { SIMD16(lowHalf: v, highHalf: SIMD8()) }
        let d1 = SuperScale.fit(widen(scales), weights: sw, extreme: maxScale, top: 63, lo: 0, hi: 63)
        let dmin1 = SuperScale.fit(widen(mins), weights: sw, extreme: maxMin, top: 63, lo: 0, hi: 63)
        guard d1 != d0 || dmin1 != dmin0 else { return (d0, dmin0, first.1, first.2) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { tb in
            let second = attempt(d1, dmin1, into: tb.baseAddress!)
            guard second.0 < first.0 else { return (d0, dmin0, first.1, first.2) }
            Lout.update(from: tb.baseAddress!, count: 256)
            return (d1, dmin1, second.1, second.2)
        }
    }

    /// ds and dm of the eight neighbours of a (scale, min) pair, in the order they are tried
    /// (computed, not `static let`: a stored static costs a once-check on every use).
    @inline(__always) static var neighbourDS: SIMD8<Int32> { SIMD8(-1, -1, -1, 0, 0, 1, 1, 1) }
    @inline(__always) static var neighbourDM: SIMD8<Int32> { SIMD8(-1, 0, 1, -1, 1, -1, 0, 1) }

    /// The weighted errors of a 32-weight sub-block for the eight neighbours (s + ds, m + dm) of
    /// its 6-bit scale and min, one per lane (+∞ where one leaves 0…63): each weight broadcast
    /// once against all eight candidates, the same arithmetic per weight as `levels` (division,
    /// ties to even, clamp to 0…nmax), summed weight by weight. Nine separate passes over the
    /// sub-block had compiled to half-width vectors with inserts and extracts.
    @inline(__always)
    static func neighbourErrors(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, d: Float, dmin: Float, s: Int, m: Int, nmax: Int = 15) -> SIMD8<Float> {
        typealias V = SIMD8<Float>
        let S = ExactIntegers.float(SIMD8(repeating: Int32(s)) &+ neighbourDS)
        let Mi = ExactIntegers.float(SIMD8(repeating: Int32(m)) &+ neighbourDM)
        let valid = (S .>= 0) .& (S .<= 63) .& (Mi .>= 0) .& (Mi .<= 63)
        let D = V(repeating: d) * S, M = V(repeating: dmin) * Mi
        let live = D .> 0
        let safeD = D.replacing(with: 1, where: .!live)
        let top = V(repeating: Float(nmax))
        var e0 = V(), e1 = V()
        var i = 0
        @inline(__always) func term(_ i: Int) -> V {
            let xv = V(repeating: x[i])
            let l = ScaleSearch.clamp(((xv + M) / safeD).rounded(.toNearestOrEven), V(), top).replacing(with: 0, where: .!live)
            let e = xv - (D * l - M)
            return V(repeating: w?[i] ?? 1) * e * e
        }
        while i < 32 { e0 += term(i); e1 += term(i + 1); i += 2 }
        return (e0 + e1).replacing(with: .infinity, where: .!valid)
    }

    /// Without ggml test vectors for Q4_K this follows `quantize_row_q4_K_ref`'s structure
    /// (sub-block fits with min ≤ 0, 6-bit scales, final levels) with plain min/max fits.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        quantize(x, weights: nil, into: block, refine: false) {
            var d = SIMD8<Float>(), m = SIMD8<Float>()
            for j in 0..<8 {
                let xs = x + 32 * j
                var lo = min(xs[0], 0), hi = xs[0]
                for i in 0..<32 { lo = min(lo, xs[i]); hi = max(hi, xs[i]) }
                d[j] = (hi - lo) / 15
                m[j] = lo
            }
            return (d, m)
        }
    }

    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        quantizeBest(x, weights: weights, into: block) { out in
            // The 8 sub-blocks searched side by side, one per lane.
            quantize(x, weights: weights, into: out, refine: true) {
                ScaleSearch8.asymmetric(x, 32, weights: .given(weights), nmax: 15, roundScales: false, maxMin: 0)
            }
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? { q8Row }

    /// Q4_K: in sub-block j (32 weights) w = d·sc_j·q − dmin·m_j, so Σ w·x = d·sc_j·d_x·Σ q·q_x
    /// − dmin·m_j·(d_x·Σ q_x). A chunk of 32 bytes holds sub-block 2c in its low nibbles and
    /// 2c + 1 in its high ones, each already two levels per 16-bit lane. A row that is not a
    /// multiple of 256 ends in Q4_1 blocks (`DType.traits.tailType`).
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        let d = a.scales, sums = a.sums, blocks = a.blocks
        let superBlocks = blocks / 8
        // Two accumulators with fused multiply-adds (one chain of dependent adds held the loop
        // back), and the eight sub-blocks' scale factors d·sc_j·d_x and minimum terms
        // dmin·m_j·(d_x·Σq_x) computed as vectors, once per super-block.
        var acc = Q8Dot.V(), acc2 = Q8Dot.V(), minimums = Q8Dot.V()
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            let (sc, mn) = scalesAndMins(blk + 4)
            let dr = UnsafeRawPointer(d + 8 * sb), sr = UnsafeRawPointer(sums + 8 * sb)
            let f = Q8Dot.V(repeating: loadHalf(blk, 0)) * sc * dr.loadUnaligned(as: Q8Dot.V.self)
            minimums.addProduct(Q8Dot.V(repeating: loadHalf(blk, 2)) * mn, sr.loadUnaligned(as: Q8Dot.V.self))
            for c in 0..<4 {
                // In 16-bit lanes (byte-lane shifts and masks are element-by-element loops in Swift).
                let v = blk.loadUnaligned(fromByteOffset: 16 + 32 * c, as: SIMD16<UInt16>.self)
                let lo = unsafeBitCast(v & 0x0F0F, to: Q8Activation.Lanes.self), hi = unsafeBitCast((v &>> 4) & 0x0F0F, to: Q8Activation.Lanes.self)
                let j = 8 * sb + 2 * c
                acc.addProduct(ExactIntegers.float(Q8Dot.unsignedSum(lo, a, j)), Q8Dot.V(repeating: f[2 * c]))
                acc2.addProduct(ExactIntegers.float(Q8Dot.unsignedSum(hi, a, j + 1)), Q8Dot.V(repeating: f[2 * c + 1]))
            }
        }
        var total = (acc + acc2).sum() - minimums.sum()
        let done = 8 * superBlocks
        if blocks > done { total += BlockQ4_1.q8Row(w + layoutBytes * superBlocks, a.dropping(done)) }
        return total
    }

}
