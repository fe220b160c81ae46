import TensorCore
#if arch(x86_64) && TRAMONTANE_AVX2
import _Builtin_intrinsics.intel
#endif

/// Q6_K: 256 weights in 16 sub-blocks of 16 = 128 bytes low nibbles + 64 bytes of 2-bit highs +
/// 16 int8 sub-scales + f16 d; w = d·sc·(q − 32). 210 bytes, 6.5625 bpw.
/// Rows that are not a multiple of 256 end in Q8_0 blocks (DType.tailType).
package enum BlockQ6_K: BlockFormat {
    package static let dtype = DType.q6_k
    package static let layoutBytes = 128 + 64 + 16 + 2   // low nibbles, 2-bit highs, 16 × i8 scales, f16 d

    /// Eight lanes at a time (bit-identical with the scalar form in `dequantizeScalar`: the same
    /// products in the same order); decoding is what a K-quant matrix-vector product costs.
    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        typealias I = SIMD8<Int32>
        let d = loadHalf(block, 208)
        let yr = UnsafeMutableRawPointer(out)
        for half in 0..<2 {
            let ql = block + 64 * half, qh = block + 128 + 32 * half, sc = block + 192 + 8 * half
            let y = 512 * half   // byte offset of this half's 128 outputs
            @inline(__always) func s(_ k: Int) -> Float { d * Float(sc.load(fromByteOffset: k, as: Int8.self)) }
            for l in stride(from: 0, to: 32, by: 8) {
                let i = l / 16
                let lo0 = Widen.bytes8(ql + l), lo1 = Widen.bytes8(ql + l + 32), h = Widen.bytes8(qh + l)
                let q1 = (lo0 & 0x0F) | ((h & 3) &<< 4), q2 = (lo1 & 0x0F) | (((h &>> 2) & 3) &<< 4)
                let q3 = (lo0 &>> 4) | (((h &>> 4) & 3) &<< 4), q4 = (lo1 &>> 4) | (((h &>> 6) & 3) &<< 4)
                @inline(__always) func put(_ q: I, _ scale: Float, _ at: Int) {
                    yr.storeBytes(of: SIMD8<Float>(repeating: scale) * ExactIntegers.float(q &- 32), toByteOffset: y + 4 * at, as: SIMD8<Float>.self)
                }
                put(q1, s(i), l); put(q2, s(i + 2), l + 32); put(q3, s(i + 4), l + 64); put(q4, s(i + 6), l + 96)
            }
        }
    }

    /// ggml's `dequantize_row_q6_K`, one weight at a time (`KQuantDequantTests` holds the SIMD form to it).
    static func dequantizeScalar(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 208)
        var ql = block
        var qh = block + 128
        var sc = block + 192
        var y = out
        for _ in 0..<2 {
            for l in 0..<32 {
                let i = l / 16
                let lo0 = ql.load(fromByteOffset: l, as: UInt8.self)
                let lo1 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                let h = qh.load(fromByteOffset: l, as: UInt8.self)
                let q1 = Int((lo0 & 0x0F) | ((h & 3) << 4)) - 32
                let q2 = Int((lo1 & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32
                func s(_ k: Int) -> Float { Float(sc.load(fromByteOffset: k, as: Int8.self)) }
                y[l] = d * s(i) * Float(q1)
                y[l + 32] = d * s(i + 2) * Float(q2)
                y[l + 64] = d * s(i + 4) * Float(q3)
                y[l + 96] = d * s(i + 6) * Float(q4)
            }
            y += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }

    /// Packs 256 levels in 0…63, 16 int8 scales and d (ggml's layout).
    static func pack(d: Float, scales: SIMD16<Int8>, levels L: UnsafePointer<UInt8>, into block: UnsafeMutableRawPointer) {
        for half in 0..<2 {
            let j = 128 * half
            for l in 0..<32 {
                let q1 = L[j + l] & 0x0F, q2 = L[j + l + 32] & 0x0F, q3 = L[j + l + 64] & 0x0F, q4 = L[j + l + 96] & 0x0F
                block.storeBytes(of: q1 | (q3 << 4), toByteOffset: 64 * half + l, as: UInt8.self)
                block.storeBytes(of: q2 | (q4 << 4), toByteOffset: 64 * half + l + 32, as: UInt8.self)
                let h = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6)
                block.storeBytes(of: h, toByteOffset: 128 + 32 * half + l, as: UInt8.self)
            }
        }
        for i in 0..<16 { block.storeBytes(of: scales[i], toByteOffset: 192 + i, as: Int8.self) }
        storeHalf(block, 208, d)
    }

    static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer, search: Bool) {
        // Vectors and stack memory, not arrays: small arrays per super-block cost a heap
        // allocation and a generic-metadata lookup each.
        var sub = SIMD16<Float>()
        if search {
            // The 16 sub-blocks searched 8 at a time, one per lane.
            for h in 0..<2 {
                let s = ScaleSearch8.symmetric(x + 128 * h, 16, weights: .given(weights.map { $0 + 128 * h }), qmin: -32, qmax: 31, roundScale: false)
                for j in 0..<8 { sub[8 * h + j] = s[j] }
            }
        } else {
            for j in 0..<16 { sub[j] = BlockExtremes.signedMax(x + 16 * j, 16).vmax / -32 }
        }
        var maxAbs: Float = 0, maxScale: Float = 0
        for j in 0..<16 where abs(sub[j]) > maxAbs { maxAbs = abs(sub[j]); maxScale = sub[j] }
        var scales = SIMD16<Int8>()
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { Lb in
            let Lp = Lb.baseAddress!
            Lp.initialize(repeating: 32, count: 256)
            guard maxAbs > 0 else { return pack(d: 0, scales: scales, levels: Lp, into: block) }
            quantize(x, weights: weights, sub: sub, maxScale: maxScale, search: search, scales: &scales, levels: Lp, into: block)
        }
    }

    /// The rest of `quantize`: sub-scales as int8 against the super-block scale, levels, the
    /// ±1 trials, packing.
    @inline(__always)
    static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, sub: SIMD16<Float>, maxScale: Float, search: Bool,
                         scales: inout SIMD16<Int8>, levels Lp: UnsafeMutablePointer<UInt8>, into block: UnsafeMutableRawPointer) {
        let iscale = -128 / maxScale
        let d = ScaleSearch.f16(1 / iscale)
        for j in 0..<16 { scales[j] = Int8(clamping: Int((iscale * sub[j]).rounded())) }
        // Levels of sub-block j for sub-scale s (nearest, ties to even, in −32…31, stored +32)
        // and their weighted error, two vectors of 8 (a scalar `rounded()` is a libm call); the
        // levels are stored only when `out` is given (the ±1 trials need only the error).
        @inline(__always) func levels(_ j: Int, _ s: Int8, into out: UnsafeMutableRawPointer?) -> Float {
            typealias V = SIMD8<Float>
            let D = d * Float(s)
            let Dv = V(repeating: D), lo = V(repeating: -32), hi = V(repeating: 31)
            var err = V()
            for k in stride(from: 0, to: 16, by: 8) {
                let v = UnsafeRawPointer(x + 16 * j + k).loadUnaligned(as: V.self)
                let l = D != 0 ? ScaleSearch.clamp((v / Dv).rounded(.toNearestOrEven), lo, hi) : V()
                if let out { ReferenceLevels.storeLowBytes(ExactIntegers.rounded(l + 32), to: out + k) }
                let e = v - Dv * l
                let w = weights.map { UnsafeRawPointer($0 + 16 * j + k).loadUnaligned(as: V.self) } ?? V(repeating: 1)
                err += w * e * e
            }
            return err.total
        }
        do {
            for j in 0..<16 {
                let best = levels(j, scales[j], into: Lp + 16 * j)
                guard search else { continue }
                let s0 = Int(scales[j])
                var bestErr = best, bestS = s0
                for s in Swift.stride(from: s0 - 1, through: s0 + 1, by: 2) where (-128...127).contains(s) {
                    let e = levels(j, Int8(s), into: nil)
                    if e < bestErr { bestErr = e; bestS = s }
                }
                if bestS != s0 {
                    scales[j] = Int8(bestS)
                    _ = levels(j, scales[j], into: Lp + 16 * j)
                }
            }
        }
        pack(d: d, scales: scales, levels: Lp, into: block)
    }

    /// Follows `quantize_row_q6_K_ref`'s structure with max-based sub-block scales.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        quantize(x, weights: nil, into: block, search: false)
    }

    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        quantizeBest(x, weights: weights, into: block) { out in quantize(x, weights: weights, into: out, search: true) }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    /// One half super-block's 128 levels 0…63 (low nibbles at `ql`, two high bits each at `qh`)
    /// as four groups of 32 in position order, two per 16-bit lane (ggml's q1 … q4).
    @inline(__always) static func levels(_ ql: UnsafeRawPointer, _ qh: UnsafeRawPointer)
        -> (SIMD16<UInt16>, SIMD16<UInt16>, SIMD16<UInt16>, SIMD16<UInt16>) {
        typealias U = SIMD16<UInt16>
        let lo0 = ql.loadUnaligned(as: U.self), lo1 = ql.loadUnaligned(fromByteOffset: 32, as: U.self)
        let h = qh.loadUnaligned(as: U.self)
        let m4 = U(repeating: 0x0F0F), m2 = U(repeating: 0x0303)
        let h0: U = (h & m2) &<< 4, h1: U = ((h &>> 2) & m2) &<< 4
        let h2: U = ((h &>> 4) & m2) &<< 4, h3: U = ((h &>> 6) & m2) &<< 4
        return ((lo0 & m4) | h0, (lo1 & m4) | h1, ((lo0 &>> 4) & m4) | h2, ((lo1 &>> 4) & m4) | h3)
    }

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

    /// Q6_K: w = d·sc·(q − 32) with an int8 scale per 16 weights. Each group of 32 outputs of a
    /// 128-weight half is one activation block: levels q (0…63) from 4 low bits in `ql` and 2
    /// high bits in `qh`, made signed bytes (q − 32) with a borrow-free per-byte subtraction in
    /// 16-bit lanes; the block's 8 Int32 partial sums are weights 0…15 (lanes 0–3) and 16…31
    /// (lanes 4–7), scaled by their two sub-scales. Rows that are not a multiple of 256 end in
    /// Q8_0 blocks.
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        let d = a.scales, blocks = a.blocks
        typealias U = SIMD16<UInt16>
        let superBlocks = blocks / 8
        var acc = Q8Dot.V()
        @inline(__always) func signed(_ u: U) -> Q8Activation.Lanes {
            let high = U(repeating: 0x8080)
            return unsafeBitCast(((u | high) &- U(repeating: 0x2020)) ^ high, to: Q8Activation.Lanes.self)
        }
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            let dw = loadHalf(blk, 208)
            for half in 0..<2 {
                let ql = blk + 64 * half, qh = blk + 128 + 32 * half, sc = blk + 192 + 8 * half
                let (g0, g1, g2, g3) = levels(ql, qh)
                for g in 0..<4 {
                    let j = 8 * sb + 4 * half + g
                    let q: U = g == 0 ? g0 : g == 1 ? g1 : g == 2 ? g2 : g3
                    let s = Q8Dot.signedSum(signed(q), a, j)
                    let f = dw * d[j]
                    let scale = Q8Dot.V(lowHalf: SIMD4(repeating: f * Float(sc.load(fromByteOffset: 2 * g, as: Int8.self))),
                                  highHalf: SIMD4(repeating: f * Float(sc.load(fromByteOffset: 2 * g + 1, as: Int8.self))))
                    acc += ExactIntegers.float(s) * scale
                }
            }
        }
        var total = acc.sum()
        let done = 8 * superBlocks
        if blocks > done { total += BlockQ8_0.q8Row(w + layoutBytes * superBlocks, a.dropping(done)) }
        return total
    }

    #if arch(x86_64) && TRAMONTANE_AVX2
    /// `q8Row` on AVX2 builds, as ggml's `vec_dot_q6_K_q8_K`: the levels 0…63 as unsigned bytes
    /// times the activation (`vpmaddubsw`), minus 32·Σx (the offset) in the same int16 pairs, then
    /// each 16 weights' sub-scale in the widening multiply — fewer instructions than making the
    /// levels signed for `Q8Dot.signedSum`. The same exact block sums as `q8Row`.
    static func q8RowBytes(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        typealias U = SIMD16<UInt16>
        let superBlocks = a.blocks / 8
        var acc = Q8Dot.V(), acc2 = Q8Dot.V()
        let offset = unsafeBitCast(SIMD32<UInt8>(repeating: 32), to: __m256i.self)
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            let dw = loadHalf(blk, 208)
            for half in 0..<2 {
                let ql = blk + 64 * half, qh = blk + 128 + 32 * half, sc = blk + 192 + 8 * half
                let (g0, g1, g2, g3) = levels(ql, qh)
                for g in 0..<4 {
                    let j = 8 * sb + 4 * half + g
                    let q: U = g == 0 ? g0 : g == 1 ? g1 : g == 2 ? g2 : g3
                    let x = ByteDot.load(a.bytes + 32 * j)
                    let scales = ByteDot.halves(Int16(sc.load(fromByteOffset: 2 * g, as: Int8.self)), Int16(sc.load(fromByteOffset: 2 * g + 1, as: Int8.self)))
                    let s = ExactIntegers.float(ByteDot.widen(ByteDot.offsetPairs(q, x, offset: offset), scales)) * Q8Dot.V(repeating: dw * a.scales[j])
                    if g & 1 == 0 { acc += s } else { acc2 += s }
                }
            }
        }
        var total = (acc + acc2).sum()
        let done = 8 * superBlocks
        if a.blocks > done { total += BlockQ8_0.q8Row(w + layoutBytes * superBlocks, a.dropping(done)) }
        return total
    }
    #endif
}
