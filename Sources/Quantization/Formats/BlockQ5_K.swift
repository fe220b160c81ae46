import TensorCore

/// Q5_K: 256 weights in 8 sub-blocks of 32 = f16 d + f16 dmin + 12 bytes of packed 6-bit
/// sub-scales and sub-mins (as Q4_K) + 32 bytes of high bits + 128 bytes of nibbles;
/// w = d·sc·q − dmin·m with q in 0…31. 176 bytes, 5.5 bpw. Weight l of sub-block j has its
/// low four bits in nibble (j odd: high, else low) of byte 32·⌊j/2⌋ + l of the nibbles and its
/// fifth bit in bit j of high-bit byte l. Rows that are not a multiple of 256 end in Q5_1 blocks
/// (DType.tailType).
package enum BlockQ5_K: BlockFormat {
    package static let dtype = DType.q5_k
    package static let layoutBytes = 2 + 2 + 12 + 32 + 128   // f16 d, f16 dmin, 12 B 6-bit scales/mins, 32 B high bits, 128 B nibbles

    /// Eight lanes at a time (bit-identical with `dequantizeScalar`: the same operations).
    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let d = loadHalf(block, 0)
        let dmin = loadHalf(block, 2)
        let yr = UnsafeMutableRawPointer(out)
        for c in 0..<4 {
            let (sc1, m1) = BlockQ4_K.scaleMin(2 * c, block + 4)
            let (sc2, m2) = BlockQ4_K.scaleMin(2 * c + 1, block + 4)
            let d1 = V(repeating: d * Float(sc1)), mm1 = V(repeating: dmin * Float(m1))
            let d2 = V(repeating: d * Float(sc2)), mm2 = V(repeating: dmin * Float(m2))
            let q = block + 48 + 32 * c
            for l in stride(from: 0, to: 32, by: 8) {
                let b = Widen.bytes8(q + l), h = Widen.bytes8(block + 16 + l)
                let lo = (b & 0x0F) | (((h &>> Int32(2 * c)) & 1) &<< 4)
                let hi = (b &>> 4) | (((h &>> Int32(2 * c + 1)) & 1) &<< 4)
                yr.storeBytes(of: d1 * ExactIntegers.float(lo) - mm1, toByteOffset: 4 * (64 * c + l), as: V.self)
                yr.storeBytes(of: d2 * ExactIntegers.float(hi) - mm2, toByteOffset: 4 * (64 * c + 32 + l), as: V.self)
            }
        }
    }

    /// ggml's `dequantize_row_q5_K`, one weight at a time (`KQuantDequantTests` holds the SIMD form to it).
    static func dequantizeScalar(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let dmin = loadHalf(block, 2)
        let qh = block + 16
        var ql = block + 48
        var y = out
        var u1: UInt8 = 1, u2: UInt8 = 2
        for c in 0..<4 {
            let (sc1, m1) = BlockQ4_K.scaleMin(2 * c, block + 4)
            let (sc2, m2) = BlockQ4_K.scaleMin(2 * c + 1, block + 4)
            let d1 = d * Float(sc1), mm1 = dmin * Float(m1)
            let d2 = d * Float(sc2), mm2 = dmin * Float(m2)
            for l in 0..<32 {
                let q = ql.load(fromByteOffset: l, as: UInt8.self), h = qh.load(fromByteOffset: l, as: UInt8.self)
                y[l] = d1 * Float((q & 0x0F) + (h & u1 != 0 ? 16 : 0)) - mm1
            }
            for l in 0..<32 {
                let q = ql.load(fromByteOffset: l, as: UInt8.self), h = qh.load(fromByteOffset: l, as: UInt8.self)
                y[l + 32] = d2 * Float((q >> 4) + (h & u2 != 0 ? 16 : 0)) - mm2
            }
            ql += 32
            y += 64
            u1 <<= 2
            u2 <<= 2
        }
    }

    /// Packs d, dmin, the 8 (scale, min) pairs (as Q4_K) and 256 levels in 0…31 (ggml's layout).
    static func pack(d: Float, dmin: Float, ls: SIMD8<UInt8>, lm: SIMD8<UInt8>, levels L: UnsafePointer<UInt8>, into block: UnsafeMutableRawPointer) {
        storeHalf(block, 0, d)
        storeHalf(block, 2, dmin)
        BlockQ4_K.packScales(ls: ls, lm: lm, into: block + 4)
        for l in 0..<32 {
            var h: UInt8 = 0
            for j in 0..<8 where L[32 * j + l] > 15 { h |= 1 << UInt8(j) }
            block.storeBytes(of: h, toByteOffset: 16 + l, as: UInt8.self)
        }
        for c in 0..<4 {
            for l in 0..<32 {
                block.storeBytes(of: (L[64 * c + l] & 0x0F) | ((L[64 * c + l + 32] & 0x0F) << 4), toByteOffset: 48 + 32 * c + l, as: UInt8.self)
            }
        }
    }

    /// ggml's `quantize_row_q5_K_ref`, bit for bit (tested against ggml's own output in
    /// Tests/Fixtures/quant/ggml-kquants.safetensors): per sub-block `make_qkx2_quants` with
    /// weights √(mean x²) + |x|, then 6-bit scales and mins, then levels for them.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 32) { buf in
            let L = buf.baseAddress!, aux = L + 256
            var scales = SIMD8<Float>(), mins = SIMD8<Float>()
            var maxScale: Float = 0, maxMin: Float = 0
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { wb in
                let w = wb.baseAddress!
                for j in 0..<8 {
                    let xs = x + 32 * j
                    var sumX2: Float = 0
                    for l in 0..<32 { sumX2 += xs[l] * xs[l] }
                    let avX = (sumX2 / 32).squareRoot()
                    for l in 0..<32 { w[l] = avX + abs(xs[l]) }
                    let (s, m) = KQuantReference.makeQkx2Quants(32, 31, xs, w, L + 32 * j, aux, rmin: -0.5, rdelta: 0.1, nstep: 15, useMAD: false)
                    scales[j] = s; mins[j] = m
                    if s > maxScale { maxScale = s }
                    if m > maxMin { maxMin = m }
                }
            }
            let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
            let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
            var ls = SIMD8<UInt8>(), lm = SIMD8<UInt8>()
            for j in 0..<8 {
                ls[j] = min(63, UInt8(truncatingIfNeeded: KQuantReference.nearestInt(invScale * scales[j])))
                lm[j] = min(63, UInt8(truncatingIfNeeded: KQuantReference.nearestInt(invMin * mins[j])))
            }
            let d = ScaleSearch.f16(maxScale / 63), dmin = ScaleSearch.f16(maxMin / 63)
            for j in 0..<8 {
                let dj = d * Float(ls[j])
                if dj == 0 { continue }
                let dm = dmin * Float(lm[j])
                for i in 0..<32 {
                    L[32 * j + i] = UInt8(max(0, min(31, KQuantReference.nearestInt((x[32 * j + i] + dm) / dj))))
                }
            }
            pack(d: d, dmin: dmin, ls: ls, lm: lm, levels: L, into: block)
        }
    }

    /// The search: each sub-block's (scale, min ≤ 0) fitted by `ScaleSearch8.asymmetric` (the 8
    /// sub-blocks side by side), then Q4_K's 6-bit quantization of scales and mins with the
    /// neighbour trials (`BlockQ4_K.quantize(…nmax:…)`); the reference block is kept where its
    /// weighted error is lower.
    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        quantizeBest(x, weights: weights, into: block) { out in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { Lb in
                let (d, dmin, ls, lm) = BlockQ4_K.subScales(x, weights: weights, nmax: 31, levels: Lb.baseAddress!) {
                    ScaleSearch8.asymmetric(x, 32, weights: .given(weights), nmax: 31, roundScales: false, maxMin: 0)
                }
                pack(d: d, dmin: dmin, ls: ls, lm: lm, levels: Lb.baseAddress!, into: out)
            }
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? { q8Row }

    /// Q5_K: as Q4_K's kernel (Σ w·x = d·sc_j·d_x·Σ q·q_x − dmin·m_j·(d_x·Σ q_x) per sub-block j),
    /// with each level's fifth bit taken from the high-bit bytes (bit j of byte l for weight l of
    /// sub-block j) into bit 4 of its byte, in 16-bit lanes. Levels ≤ 31: a pair of products
    /// stays within Int16. Rows that are not a multiple of 256 end in Q5_1 blocks.
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        let d = a.scales, sums = a.sums, blocks = a.blocks
        typealias U = SIMD16<UInt16>
        let superBlocks = blocks / 8
        var acc = Q8Dot.V(), acc2 = Q8Dot.V(), minimums = Q8Dot.V()
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            let (sc, mn) = BlockQ4_K.scalesAndMins(blk + 4)
            let dr = UnsafeRawPointer(d + 8 * sb), sr = UnsafeRawPointer(sums + 8 * sb)
            let f = Q8Dot.V(repeating: loadHalf(blk, 0)) * sc * dr.loadUnaligned(as: Q8Dot.V.self)
            minimums.addProduct(Q8Dot.V(repeating: loadHalf(blk, 2)) * mn, sr.loadUnaligned(as: Q8Dot.V.self))
            let h = blk.loadUnaligned(fromByteOffset: 16, as: U.self)
            for c in 0..<4 {
                let v = blk.loadUnaligned(fromByteOffset: 48 + 32 * c, as: U.self)
                let hl: U = ((h &>> UInt16(2 * c)) & 0x0101) &<< 4, hh: U = ((h &>> UInt16(2 * c + 1)) & 0x0101) &<< 4
                let lo = unsafeBitCast((v & 0x0F0F) | hl, to: Q8Activation.Lanes.self)
                let hi = unsafeBitCast(((v &>> 4) & 0x0F0F) | hh, to: Q8Activation.Lanes.self)
                let j = 8 * sb + 2 * c
                acc.addProduct(ExactIntegers.float(Q8Dot.unsignedSum(lo, a, j)), Q8Dot.V(repeating: f[2 * c]))
                acc2.addProduct(ExactIntegers.float(Q8Dot.unsignedSum(hi, a, j + 1)), Q8Dot.V(repeating: f[2 * c + 1]))
            }
        }
        var total = (acc + acc2).sum() - minimums.sum()
        let done = 8 * superBlocks
        if blocks > done { total += BlockQ5_1.q8Row(w + layoutBytes * superBlocks, a.dropping(done)) }
        return total
    }
}
