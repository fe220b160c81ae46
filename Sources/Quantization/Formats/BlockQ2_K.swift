import TensorCore

/// Q2_K: 256 weights in 16 sub-blocks of 16 = 16 bytes of 4-bit (scale, min) pairs (scale in
/// the low nibble) + 64 bytes of 2-bit levels + f16 d + f16 dmin; w = d·sc·q − dmin·m with q in
/// 0…3. 84 bytes, 2.625 bpw. Weight i = 128h + 32j + l (h < 2, j < 4, l < 32): level at bits 2j
/// of byte 32h + l, sub-block 8h + 2j + ⌊l/16⌋. Rows that are not a multiple of 256 end in Q4_0
/// blocks (DType.tailType).
package enum BlockQ2_K: BlockFormat {
    package static let dtype = DType.q2_k
    package static let layoutBytes = 16 + 64 + 2 + 2   // 16 × (4-bit scale | 4-bit min), 2-bit levels, f16 d, f16 dmin

    /// Eight lanes at a time (bit-identical with `dequantizeScalar`: the same operations).
    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let d = loadHalf(block, 80), dmin = loadHalf(block, 82)
        let yr = UnsafeMutableRawPointer(out)
        for h in 0..<2 {
            for j in 0..<4 {
                for k in 0..<2 {
                    let sc = block.load(fromByteOffset: 8 * h + 2 * j + k, as: UInt8.self)
                    let dl = V(repeating: d * Float(sc & 0x0F)), ml = V(repeating: dmin * Float(sc >> 4))
                    for l in stride(from: 0, to: 16, by: 8) {
                        let q = (Widen.bytes8(block + 16 + 32 * h + 16 * k + l) &>> Int32(2 * j)) & 3
                        yr.storeBytes(of: dl * ExactIntegers.float(q) - ml, toByteOffset: 4 * (128 * h + 32 * j + 16 * k + l), as: V.self)
                    }
                }
            }
        }
    }

    /// ggml's `dequantize_row_q2_K`, one weight at a time (`KQuantDequantTests` holds the SIMD form to it).
    static func dequantizeScalar(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 80), dmin = loadHalf(block, 82)
        var y = out
        var s = 0
        for h in 0..<2 {
            let q = block + 16 + 32 * h
            for j in 0..<4 {
                for k in 0..<2 {
                    let sc = block.load(fromByteOffset: s, as: UInt8.self)
                    s += 1
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    for l in 0..<16 { y[l] = dl * Float((q.load(fromByteOffset: 16 * k + l, as: UInt8.self) >> UInt8(2 * j)) & 3) - ml }
                    y += 16
                }
            }
        }
    }

    /// Packs d, dmin, 16 (scale, min) bytes and 256 levels in 0…3 (ggml's layout).
    static func pack(d: Float, dmin: Float, scales: SIMD16<UInt8>, levels L: UnsafePointer<UInt8>, into block: UnsafeMutableRawPointer) {
        for i in 0..<16 { block.storeBytes(of: scales[i], toByteOffset: i, as: UInt8.self) }
        for h in 0..<2 {
            for l in 0..<32 {
                let i = 128 * h + l
                let b = (L[i] & 3) | ((L[i + 32] & 3) << 2) | ((L[i + 64] & 3) << 4) | ((L[i + 96] & 3) << 6)
                block.storeBytes(of: b, toByteOffset: 16 + 32 * h + l, as: UInt8.self)
            }
        }
        storeHalf(block, 80, d)
        storeHalf(block, 82, dmin)
    }

    /// ggml's `quantize_row_q2_K_ref`, bit for bit (tested against ggml's own output in
    /// Tests/Fixtures/quant/ggml-kquants.safetensors): per sub-block `make_qkx2_quants` with
    /// weights |x| and absolute error, 4-bit scales and mins against the largest, then levels.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 16) { buf in
            let L = buf.baseAddress!, aux = L + 256
            var scales = SIMD16<Float>(), mins = SIMD16<Float>()
            var maxScale: Float = 0, maxMin: Float = 0
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { wb in
                let w = wb.baseAddress!
                for j in 0..<16 {
                    for l in 0..<16 { w[l] = abs(x[16 * j + l]) }
                    let (s, m) = KQuantReference.makeQkx2Quants(16, 3, x + 16 * j, w, L + 16 * j, aux, rmin: -0.5, rdelta: 0.1, nstep: 15, useMAD: true)
                    scales[j] = s; mins[j] = m
                    if s > maxScale { maxScale = s }
                    if m > maxMin { maxMin = m }
                }
            }
            var stored = SIMD16<UInt8>()
            var d: Float = 0, dmin: Float = 0
            if maxScale > 0 {
                let iscale = 15 / maxScale
                for j in 0..<16 { stored[j] = UInt8(truncatingIfNeeded: KQuantReference.nearestInt(iscale * scales[j])) }
                d = ScaleSearch.f16(maxScale / 15)
            }
            if maxMin > 0 {
                let iscale = 15 / maxMin
                for j in 0..<16 { stored[j] |= UInt8(truncatingIfNeeded: KQuantReference.nearestInt(iscale * mins[j]) << 4) }
                dmin = ScaleSearch.f16(maxMin / 15)
            }
            for j in 0..<16 {
                let dj = d * Float(stored[j] & 0x0F)
                if dj == 0 { continue }
                let dm = dmin * Float(stored[j] >> 4)
                for i in 0..<16 {
                    L[16 * j + i] = UInt8(max(0, min(3, KQuantReference.nearestInt((x[16 * j + i] + dm) / dj))))
                }
            }
            pack(d: d, dmin: dmin, scales: stored, levels: L, into: block)
        }
    }

    /// The search: each sub-block's (scale, min ≤ 0) fitted by `ScaleSearch8.asymmetric` (8 side
    /// by side), made 4-bit against the largest, then the eight neighbours of each sub-block's
    /// (scale, min) tried with the nearest levels; the reference block is kept where its weighted
    /// error is lower.
    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        quantizeBest(x, weights: weights, into: block) { out in search(x, weights: weights, into: out) }
    }

    static func search(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        var scales = SIMD16<Float>(), mins = SIMD16<Float>()
        for h in 0..<2 {
            let (s, m) = ScaleSearch8.asymmetric(x + 128 * h, 16, weights: .given(weights.map { $0 + 128 * h }), nmax: 3, roundScales: false, maxMin: 0)
            for j in 0..<8 { scales[8 * h + j] = s[j]; mins[8 * h + j] = -m[j] }
        }
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<16 { maxScale = max(maxScale, scales[j]); maxMin = max(maxMin, mins[j]) }
        var sw = SIMD16<Float>(repeating: 16)
        if let weights { for j in 0..<16 { sw[j] = 0; for l in 0..<16 { sw[j] += weights[16 * j + l] } } }
        // Levels of sub-block j for super-scales (d, dmin), 4-bit scale s and min m and their
        // weighted error (stored into `out` when given).
        @inline(__always) func levels(_ d: Float, _ dmin: Float, _ j: Int, _ s: Int, _ m: Int, into out: UnsafeMutablePointer<UInt8>?) -> Float {
            typealias V = SIMD8<Float>
            let D = d * Float(s), M = dmin * Float(m)
            let Dv = V(repeating: D), Mv = V(repeating: M), top = V(repeating: 3)
            var err = V()
            for k in stride(from: 0, to: 16, by: 8) {
                let v = UnsafeRawPointer(x + 16 * j + k).loadUnaligned(as: V.self)
                let l = D > 0 ? ScaleSearch.clamp(((v + Mv) / Dv).rounded(.toNearestOrEven), V(), top) : V()
                if let out { ReferenceLevels.storeLowBytes(ExactIntegers.rounded(l), to: out + k) }
                let e = v - (Dv * l - Mv)
                let w = weights.map { UnsafeRawPointer($0 + 16 * j + k).loadUnaligned(as: V.self) } ?? V(repeating: 1)
                err += w * e * e
            }
            return err.total
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { Lb in
            // Two pairs of super-scales: the largest scale and min mapped to 15 (as the
            // reference), and the weighted fits of all sixteen (`SuperScale`); each with its best
            // levels, the lower total error kept.
            let fitD = maxScale > 0 ? SuperScale.fit(scales, weights: sw, extreme: maxScale, top: 15, lo: 0, hi: 15) : 0
            let fitM = maxMin > 0 ? SuperScale.fit(mins, weights: sw, extreme: maxMin, top: 15, lo: 0, hi: 15) : 0
            let plain = (ScaleSearch.f16(maxScale / 15), ScaleSearch.f16(maxMin / 15))
            var bestTotal = Float.infinity, best = plain, bestStored = SIMD16<UInt8>()
            for c in 0..<2 {
                let (d, dmin) = c == 0 ? plain : (fitD, fitM)
                if c == 1 && d == plain.0 && dmin == plain.1 { continue }
                let Lp = Lb.baseAddress! + 256 * c
                var stored = SIMD16<UInt8>(), total: Float = 0
                for j in 0..<16 {
                    let s0 = d > 0 ? min(15, max(0, Int((scales[j] / d).rounded()))) : 0
                    let m0 = dmin > 0 ? min(15, max(0, Int((mins[j] / dmin).rounded()))) : 0
                    var bestErr = levels(d, dmin, j, s0, m0, into: Lp + 16 * j), bestS = s0, bestM = m0
                    for ds in -1...1 {
                        for dm in -1...1 where ds != 0 || dm != 0 {
                            let s = s0 + ds, m = m0 + dm
                            guard (0...15).contains(s), (0...15).contains(m) else { continue }
                            let e = levels(d, dmin, j, s, m, into: nil)
                            if e < bestErr { bestErr = e; bestS = s; bestM = m }
                        }
                    }
                    if bestS != s0 || bestM != m0 { _ = levels(d, dmin, j, bestS, bestM, into: Lp + 16 * j) }
                    stored[j] = UInt8(bestS) | (UInt8(bestM) << 4)
                    total += bestErr
                }
                if total < bestTotal { bestTotal = total; best = (d, dmin); bestStored = stored; if c == 1 { Lb.baseAddress!.update(from: Lp, count: 256) } }
            }
            pack(d: best.0, dmin: best.1, scales: bestStored, levels: Lb.baseAddress!, into: block)
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? { q8Row }

    /// Q2_K: per sub-block k, Σ w·x = d·sc_k·d_x·Σ q·q_x − dmin·m_k·d_x·Σ q_x. Activation block
    /// 4h + j covers sub-blocks 8h + 2j and 8h + 2j + 1 (lanes 0–3 and 4–7 of the 8 Int32 partial
    /// sums): the levels from one 32-byte load shifted by 2j, Σ q·q_x and the activation's
    /// 16-weight sums Σ q_x each multiplied by their integer scale and min exactly, then by
    /// d·d_x and dmin·d_x. Rows that are not a multiple of 256 end in Q4_0 blocks.
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        let d = a.scales, blocks = a.blocks
        typealias U = SIMD16<UInt16>
        typealias I = SIMD8<Int32>
        let superBlocks = blocks / 8
        var acc = Q8Dot.V(), minimums = Q8Dot.V()
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            let dw = loadHalf(blk, 80), dm = loadHalf(blk, 82)
            let sc = blk.loadUnaligned(as: SIMD16<UInt8>.self)
            for h in 0..<2 {
                let qv = blk.loadUnaligned(fromByteOffset: 16 + 32 * h, as: U.self)
                for j in 0..<4 {
                    let q = unsafeBitCast((qv &>> UInt16(2 * j)) & 0x0303, to: Q8Activation.Lanes.self)
                    let b = 8 * sb + 4 * h + j
                    let s = Q8Dot.unsignedSum(q, a, b), qx = Q8Dot.activationSum(a, b)
                    let k = 8 * h + 2 * j
                    let s0 = sc[k], s1 = sc[k + 1]
                    let scv = I(lowHalf: SIMD4(repeating: Int32(s0 & 0x0F)), highHalf: SIMD4(repeating: Int32(s1 & 0x0F)))
                    let mv = I(lowHalf: SIMD4(repeating: Int32(s0 >> 4)), highHalf: SIMD4(repeating: Int32(s1 >> 4)))
                    acc.addProduct(ExactIntegers.float(s &* scv), Q8Dot.V(repeating: dw * d[b]))
                    minimums.addProduct(ExactIntegers.float(qx &* mv), Q8Dot.V(repeating: dm * d[b]))
                }
            }
        }
        var total = acc.sum() - minimums.sum()
        let done = 8 * superBlocks
        if blocks > done { total += BlockQ4_0.q8Row(w + layoutBytes * superBlocks, a.dropping(done)) }
        return total
    }
}
