import TensorCore
#if arch(x86_64) && TRAMONTANE_AVX2
import _Builtin_intrinsics.intel
#endif

/// Q3_K: 256 weights in 16 sub-blocks of 16 = 32 bytes of high bits (hmask) + 64 bytes of 2-bit
/// low parts + 12 bytes of packed 6-bit sub-scales + f16 d; w = d·(sc − 32)·(q − 4) with q in
/// 0…7. 110 bytes, 3.4375 bpw. Weight i = 128h + 32j + l (h < 2, j < 4, l < 32): low bits
/// at bits 2j of byte 32h + l, third bit at bit 4h + j of hmask byte l, sub-scale 8h + 2j + ⌊l/16⌋.
/// Rows that are not a multiple of 256 end in Q4_0 blocks (DType.tailType).
package enum BlockQ3_K: BlockFormat {
    package static let dtype = DType.q3_k
    package static let layoutBytes = 32 + 64 + 12 + 2   // hmask, 2-bit lows, 12 B 6-bit scales, f16 d

    /// ggml's packing of the sixteen 6-bit scales (stored + 32): low nibbles in bytes 0…7 (scales
    /// 0…7 low, 8…15 high nibble), the top two bits of scale j at bits 2·⌊j/4⌋ of byte 8 + j mod 4.
    @inline(__always) package static func scale(_ j: Int, _ s: UnsafeRawPointer) -> Int {
        func b(_ i: Int) -> UInt8 { s.load(fromByteOffset: i, as: UInt8.self) }
        let low = j < 8 ? b(j) & 0x0F : b(j - 8) >> 4
        let high = (b(8 + j % 4) >> UInt8(2 * (j / 4))) & 3
        return Int(low | (high << 4)) - 32
    }

    /// All sixteen `scale`s at once, as vector lanes.
    @inline(__always) package static func scales(_ s: UnsafeRawPointer) -> SIMD16<Int16> {
        let l8 = s.loadUnaligned(as: SIMD8<UInt8>.self)
        let low = SIMD16<UInt8>(lowHalf: l8 & 0x0F, highHalf: l8 &>> 4)
        let m = s.loadUnaligned(fromByteOffset: 8, as: SIMD4<UInt8>.self)
        let m8 = SIMD8<UInt8>(lowHalf: m, highHalf: m)
        let high = (SIMD16<UInt8>(lowHalf: m8, highHalf: m8) &>> SIMD16<UInt8>(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6)) & 3
        return SIMD16<Int16>(truncatingIfNeeded: low | (high &<< 4)) &- 32
    }

    /// Eight lanes at a time (bit-identical with `dequantizeScalar`: the same integers, the same products).
    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let d = loadHalf(block, 108)
        let yr = UnsafeMutableRawPointer(out)
        for h in 0..<2 {
            for j in 0..<4 {
                for k in 0..<2 {
                    let dl = V(repeating: d * Float(scale(8 * h + 2 * j + k, block + 96)))
                    for l in stride(from: 0, to: 16, by: 8) {
                        let q = Widen.bytes8(block + 32 + 32 * h + 16 * k + l), hm = Widen.bytes8(block + 16 * k + l)
                        let v = ((q &>> Int32(2 * j)) & 3) &- 4 &+ (((hm &>> Int32(4 * h + j)) & 1) &<< 2)
                        yr.storeBytes(of: dl * ExactIntegers.float(v), toByteOffset: 4 * (128 * h + 32 * j + 16 * k + l), as: V.self)
                    }
                }
            }
        }
    }

    /// ggml's `dequantize_row_q3_K`, one weight at a time (`KQuantDequantTests` holds the SIMD form to it).
    static func dequantizeScalar(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 108)
        var y = out
        var m: UInt8 = 1
        for h in 0..<2 {
            let q = block + 32 + 32 * h
            for j in 0..<4 {
                for k in 0..<2 {
                    let dl = d * Float(scale(8 * h + 2 * j + k, block + 96))
                    for l in 0..<16 {
                        let lo = Int((q.load(fromByteOffset: 16 * k + l, as: UInt8.self) >> UInt8(2 * j)) & 3)
                        let hi = block.load(fromByteOffset: 16 * k + l, as: UInt8.self) & m != 0 ? 0 : 4
                        y[l] = dl * Float(lo - hi)
                    }
                    y += 16
                }
                m <<= 1
            }
        }
    }

    /// Packs d, 16 scales (stored values 0…63) and 256 levels in 0…7 (ggml's layout).
    static func pack(d: Float, scales: SIMD16<UInt8>, levels L: UnsafePointer<UInt8>, into block: UnsafeMutableRawPointer) {
        for l in 0..<32 {
            var h: UInt8 = 0
            for g in 0..<8 where L[32 * g + l] > 3 { h |= 1 << UInt8(g) }
            block.storeBytes(of: h, toByteOffset: l, as: UInt8.self)
        }
        for h in 0..<2 {
            for l in 0..<32 {
                let i = 128 * h + l
                let b = (L[i] & 3) | ((L[i + 32] & 3) << 2) | ((L[i + 64] & 3) << 4) | ((L[i + 96] & 3) << 6)
                block.storeBytes(of: b, toByteOffset: 32 + 32 * h + l, as: UInt8.self)
            }
        }
        var s = SIMD16<UInt8>()
        for j in 0..<16 {
            let l = scales[j]
            if j < 8 { s[j] = l & 0x0F } else { s[j - 8] |= (l & 0x0F) << 4 }
            s[j % 4 + 8] |= (l >> 4) << UInt8(2 * (j / 4))
        }
        for i in 0..<12 { block.storeBytes(of: s[i], toByteOffset: 96 + i, as: UInt8.self) }
        storeHalf(block, 108, d)
    }

    /// ggml's `quantize_row_q3_K_ref`, bit for bit (tested against ggml's own output in
    /// Tests/Fixtures/quant/ggml-kquants.safetensors): per sub-block `make_q3_quants` (x²-weighted
    /// fit), 6-bit scales against the largest, then levels for them.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { Lb in
            let L = Lb.baseAddress!
            var scales = SIMD16<Float>()
            var maxScale: Float = 0, amax: Float = 0
            for j in 0..<16 {
                scales[j] = KQuantReference.makeQ3Quants(16, 4, x + 16 * j, L + 16 * j)
                let s = abs(scales[j])
                if s > amax { amax = s; maxScale = scales[j] }
            }
            var stored = SIMD16<UInt8>()
            var d: Float = 0
            if maxScale != 0 {
                let iscale = -32 / maxScale
                for j in 0..<16 {
                    let l = Int8(truncatingIfNeeded: KQuantReference.nearestInt(iscale * scales[j]))
                    stored[j] = UInt8(max(-32, min(31, l)) + 32)
                }
                d = ScaleSearch.f16(1 / iscale)
            }
            for j in 0..<16 {
                let dj = d * Float(Int(stored[j]) - 32)
                if dj == 0 { continue }
                for i in 0..<16 {
                    L[16 * j + i] = Int8(max(-4, min(3, KQuantReference.nearestInt(x[16 * j + i] / dj))) + 4)
                }
            }
            L.withMemoryRebound(to: UInt8.self, capacity: 256) { pack(d: d, scales: stored, levels: $0, into: block) }
        }
    }

    /// The search: the 16 sub-blocks' scales fitted by `ScaleSearch8.symmetric` (8 side by
    /// side), made 6-bit against the largest (as the reference), then each sub-block's scale and
    /// its two neighbours tried with the nearest levels; the reference block is kept where its
    /// weighted error is lower.
    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        quantizeBest(x, weights: weights, into: block) { out in search(x, weights: weights, into: out) }
    }

    static func search(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        var sub = SIMD16<Float>()
        for h in 0..<2 {
            let s = ScaleSearch8.symmetric(x + 128 * h, 16, weights: .given(weights.map { $0 + 128 * h }), qmin: -4, qmax: 3, roundScale: false)
            for j in 0..<8 { sub[8 * h + j] = s[j] }
        }
        var maxAbs: Float = 0, maxScale: Float = 0
        for j in 0..<16 where abs(sub[j]) > maxAbs { maxAbs = abs(sub[j]); maxScale = sub[j] }
        guard maxAbs > 0 else {
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { Lb in
                Lb.initialize(repeating: 4)
                pack(d: 0, scales: SIMD16(repeating: 32), levels: Lb.baseAddress!, into: block)
            }
        }
        var sw = SIMD16<Float>(repeating: 16)
        if let weights { for j in 0..<16 { sw[j] = 0; for l in 0..<16 { sw[j] += weights[16 * j + l] } } }
        // Levels of sub-block j for super-scale d and scale s (−32…31) and their weighted error;
        // stored into `out` when given.
        @inline(__always) func levels(_ d: Float, _ j: Int, _ s: Int, into out: UnsafeMutablePointer<UInt8>?) -> Float {
            typealias V = SIMD8<Float>
            let D = d * Float(s)
            let Dv = V(repeating: D), lo = V(repeating: -4), hi = V(repeating: 3)
            var err = V()
            for k in stride(from: 0, to: 16, by: 8) {
                let v = UnsafeRawPointer(x + 16 * j + k).loadUnaligned(as: V.self)
                let l = D != 0 ? ScaleSearch.clamp((v / Dv).rounded(.toNearestOrEven), lo, hi) : V()
                if let out { ReferenceLevels.storeLowBytes(ExactIntegers.rounded(l + 4), to: out + k) }
                let e = v - Dv * l
                let w = weights.map { UnsafeRawPointer($0 + 16 * j + k).loadUnaligned(as: V.self) } ?? V(repeating: 1)
                err += w * e * e
            }
            return err.total
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 512) { Lb in
            // Two super-scales: the largest sub-scale mapped to −32 (as the reference), and the
            // weighted fit of all sixteen (`SuperScale`); each with its best levels, the lower
            // total error kept.
            let candidates = (ScaleSearch.f16(maxScale / -32), SuperScale.fit(sub, weights: sw, extreme: maxScale, top: -32, lo: -32, hi: 31))
            var bestTotal = Float.infinity, bestD: Float = 0, bestStored = SIMD16<UInt8>()
            for c in 0..<2 {
                let d = c == 0 ? candidates.0 : candidates.1
                if c == 1 && (d == candidates.0 || d == 0) { continue }
                let Lp = Lb.baseAddress! + 256 * c
                var stored = SIMD16<UInt8>(), total: Float = 0
                for j in 0..<16 {
                    let s0 = d != 0 ? max(-32, min(31, Int((sub[j] / d).rounded()))) : 0
                    var bestErr = levels(d, j, s0, into: Lp + 16 * j), bestS = s0
                    for s in Swift.stride(from: s0 - 1, through: s0 + 1, by: 2) where (-32...31).contains(s) {
                        let e = levels(d, j, s, into: nil)
                        if e < bestErr { bestErr = e; bestS = s }
                    }
                    if bestS != s0 { _ = levels(d, j, bestS, into: Lp + 16 * j) }
                    stored[j] = UInt8(bestS + 32)
                    total += bestErr
                }
                if total < bestTotal { bestTotal = total; bestD = d; bestStored = stored; if c == 1 { Lb.baseAddress!.update(from: Lp, count: 256) } }
            }
            pack(d: bestD, scales: bestStored, levels: Lb.baseAddress!, into: block)
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? {
        #if arch(x86_64) && TRAMONTANE_AVX2
        q8RowBytes
        #else
        q8Row
        #endif
    }

    /// The lane kernel, and on AVX2 builds the byte kernel `q8Dot` picks.
    package static var q8Kernels: [Q8RowDot] {
        #if arch(x86_64) && TRAMONTANE_AVX2
        [q8Row, q8RowBytes]
        #else
        [q8Row]
        #endif
    }

    /// Q3_K: activation block 4h + j of a super-block is weights 128h + 32j …+31, sub-blocks
    /// 8h + 2j and 8h + 2j + 1. Its levels come from one 32-byte load of the low parts (shifted by
    /// 2j) and one of hmask (bit 4h + j → bit 2), made signed bytes q − 4 with a borrow-free
    /// subtraction in 16-bit lanes; the 8 Int32 partial sums (lanes 0–3: the first sub-block,
    /// 4–7: the second) are multiplied by their integer scales exactly, then by d·d_x. Rows that
    /// are not a multiple of 256 end in Q4_0 blocks.
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        let d = a.scales, blocks = a.blocks
        typealias U = SIMD16<UInt16>
        let superBlocks = blocks / 8
        var acc = Q8Dot.V(), acc2 = Q8Dot.V()
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            let dw = loadHalf(blk, 108)
            let hm = blk.loadUnaligned(as: U.self)
            let sc = SIMD16<Int32>(truncatingIfNeeded: scales(blk + 96))
            for h in 0..<2 {
                let qv = blk.loadUnaligned(fromByteOffset: 32 + 32 * h, as: U.self)
                for j in 0..<4 {
                    let u: U = ((qv &>> UInt16(2 * j)) & 0x0303) | (((hm &>> UInt16(4 * h + j)) & 0x0101) &<< 2)
                    let signed = unsafeBitCast(((u | 0x8080) &- 0x0404) ^ 0x8080, to: Q8Activation.Lanes.self)
                    let b = 8 * sb + 4 * h + j
                    let s = Q8Dot.signedSum(signed, a, b)
                    let k = 8 * h + 2 * j
                    let scv = SIMD8<Int32>(lowHalf: SIMD4(repeating: sc[k]), highHalf: SIMD4(repeating: sc[k + 1]))
                    let f = Q8Dot.V(repeating: dw * d[b])
                    if j & 1 == 0 { acc.addProduct(ExactIntegers.float(s &* scv), f) } else { acc2.addProduct(ExactIntegers.float(s &* scv), f) }
                }
            }
        }
        var total = (acc + acc2).sum()
        let done = 8 * superBlocks
        if blocks > done { total += BlockQ4_0.q8Row(w + layoutBytes * superBlocks, a.dropping(done)) }
        return total
    }

    #if arch(x86_64) && TRAMONTANE_AVX2
    /// `q8Row` on AVX2 builds, as Q6_K's `q8RowBytes`: the levels 0…7 as unsigned bytes times the
    /// activation (`vpmaddubsw`), minus 4·Σx (the offset) in the same int16 pairs, each 16
    /// weights' sub-scale in the widening multiply. The same exact block sums, and the same
    /// floating-point steps, as `q8Row`.
    static func q8RowBytes(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        typealias U = SIMD16<UInt16>
        let superBlocks = a.blocks / 8
        var acc = Q8Dot.V(), acc2 = Q8Dot.V()
        let offset = unsafeBitCast(SIMD32<UInt8>(repeating: 4), to: __m256i.self)
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            let dw = loadHalf(blk, 108)
            let hm = blk.loadUnaligned(as: U.self)
            let sc = scales(blk + 96)
            for h in 0..<2 {
                let qv = blk.loadUnaligned(fromByteOffset: 32 + 32 * h, as: U.self)
                for j in 0..<4 {
                    let u: U = ((qv &>> UInt16(2 * j)) & 0x0303) | (((hm &>> UInt16(4 * h + j)) & 0x0101) &<< 2)
                    let b = 8 * sb + 4 * h + j
                    let x = ByteDot.load(a.bytes + 32 * b)
                    let k = 8 * h + 2 * j
                    let s = ExactIntegers.float(ByteDot.widen(ByteDot.offsetPairs(u, x, offset: offset), ByteDot.halves(sc[k], sc[k + 1])))
                    let f = Q8Dot.V(repeating: dw * a.scales[b])
                    if j & 1 == 0 { acc.addProduct(s, f) } else { acc2.addProduct(s, f) }
                }
            }
        }
        var total = (acc + acc2).sum()
        let done = 8 * superBlocks
        if a.blocks > done { total += BlockQ4_0.q8Row(w + layoutBytes * superBlocks, a.dropping(done)) }
        return total
    }
    #endif

}
