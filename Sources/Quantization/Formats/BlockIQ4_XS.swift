import TensorCore

/// IQ4_XS: 256 weights in 8 sub-blocks of 32 = f16 d + u16 scales_h (2 high bits of each 6-bit
/// sub-scale) + 4 bytes scales_l (4 low bits each, sub-block 2i in the low nibble of byte i) +
/// 128 bytes of 4-bit indices into ggml's `kvalues_iq4nl` (sub-block ib's 16 bytes as an IQ4_NL
/// block's); w = d·(ls − 32)·table[q]. 136 bytes, 4.25 bpw. Rows that are not a multiple of 256
/// end in IQ4_NL blocks (DType.tailType): the same table with a scale per 32 weights, which is
/// what llama.cpp writes for a whole tensor whose rows are not (`tensor_type_fallback`).
package enum BlockIQ4_XS: BlockFormat {
    package static let dtype = DType.iq4_xs
    package static let layoutBytes = 2 + 2 + 4 + 128   // f16 d, u16 scales_h, 4 B scales_l, 128 B indices

    /// The 6-bit sub-scale ls of sub-block `ib` (ggml's `dequantize_row_iq4_xs`).
    @inline(__always) static func subScale(_ block: UnsafeRawPointer, _ ib: Int) -> Int {
        let h = Int(UInt16(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        let l = Int(block.load(fromByteOffset: 4 + ib / 2, as: UInt8.self))
        return ((l >> (4 * (ib % 2))) & 0x0F) | (((h >> (2 * ib)) & 3) << 4)
    }

    /// ggml's `dequantize_row_iq4_xs`: dl = d·(ls − 32), then dl · table[q], in f32.
    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let t = NonLinearSearch.table
        for ib in 0..<8 {
            let dl = d * Float(subScale(block, ib) - 32)
            let qs = block + 8 + 16 * ib, y = out + 32 * ib
            for j in 0..<16 {
                let q = qs.load(fromByteOffset: j, as: UInt8.self)
                y[j] = dl * Float(t[Int(q & 0x0F)])
                y[j + 16] = dl * Float(t[Int(q >> 4)])
            }
        }
    }

    /// Writes d (as f16), the 6-bit sub-scales l + 32 and the levels nearest x·id (per lane =
    /// sub-block), in ggml's layout.
    static func store(_ xt: UnsafePointer<SIMD8<Float>>, d: Float, l: SIMD8<Int32>, id: SIMD8<Float>, into block: UnsafeMutableRawPointer) {
        storeHalf(block, 0, d)
        var h: UInt16 = 0
        for ib in 0..<8 {
            let ls = UInt8(truncatingIfNeeded: l[ib] + 32)
            if ib % 2 == 0 { block.storeBytes(of: ls & 0x0F, toByteOffset: 4 + ib / 2, as: UInt8.self) }
            else { block.storeBytes(of: block.load(fromByteOffset: 4 + ib / 2, as: UInt8.self) | ((ls & 0x0F) << 4), toByteOffset: 4 + ib / 2, as: UInt8.self) }
            h |= UInt16(ls >> 4) << (2 * ib)
        }
        block.storeBytes(of: h.littleEndian, toByteOffset: 2, as: UInt16.self)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { L in
            NonLinearSearch.levels(xt, id: id, into: L.baseAddress!)
            for ib in 0..<8 { ReferenceLevels.packNibbles(levels: L.baseAddress! + 32 * ib, bias: 0, into: block + 8 + 16 * ib) }
        }
    }

    /// The sub-scale integers l ∈ −32…31 of the super-block scale d for sub-block scales s:
    /// ggml's `nearest_int(id·s)` clamped.
    @inline(__always) static func subScales(_ s: SIMD8<Float>, d: Float) -> SIMD8<Int32> {
        let id: Float = d != 0 ? 1 / d : 0
        var l = SIMD8<Int32>()
        for ib in 0..<8 { l[ib] = Int32(max(-32, min(31, (id * s[ib]).rounded(.toNearestOrEven)))) }
        return l
    }

    /// ggml's `quantize_iq4_xs` without an importance matrix, bit for bit: the sub-blocks'
    /// scales (weights x², as IQ4_NL's), d = −s_max/32 for the sub-scale of largest magnitude
    /// (the first if tied), l = round(s/d) in −32…31, levels nearest x/(d·l) with the unrounded d.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        ScaleSearch8.withLanes(x, .given(nil), 32) { xt, _ in
            let s = BlockIQ4_NL.reference(xt)
            var maxScale: Float = 0, amaxScale: Float = 0
            for ib in 0..<8 where abs(s[ib]) > amaxScale { amaxScale = abs(s[ib]); maxScale = s[ib] }
            let d = -maxScale / 32
            let l = subScales(s, d: d)
            let dl = SIMD8<Float>(repeating: d) * ExactIntegers.float(l)
            store(xt, d: d, l: l, id: NonLinearSearch.reciprocal(dl), into: block)
        }
    }

    /// The search: sub-block scales from IQ4_NL's candidates under the search's weights, then
    /// for super-block scales mapping the largest sub-scale to −32, −31.5 and +31 (each f16 as
    /// stored) every sub-block's integer scale and its two neighbours, each with its best
    /// levels, by weighted error; the block with the lowest total, or ggml's reference block
    /// where that is lower (`quantizeBest`).
    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        typealias V = SIMD8<Float>
        quantizeBest(x, weights: weights, into: block) { out in
            ScaleSearch8.withLanes(x, .given(weights), 32) { xt, wt in
                let s = NonLinearSearch.ggmlScales(xt, wt, ntry: 7, extra: NonLinearSearch.searchExtra)
                var maxScale: Float = 0, amaxScale: Float = 0
                for ib in 0..<8 where abs(s[ib]) > amaxScale { amaxScale = abs(s[ib]); maxScale = s[ib] }
                var bestTotal = Float.infinity, bestD: Float = 0, bestL = SIMD8<Int32>(), bestId = V()
                for divisor: Float in [-32, -31.5, 31] {
                    let D = ScaleSearch.f16(maxScale / divisor)
                    guard D.isFinite else { continue }
                    let l0 = subScales(s, d: D)
                    var l = l0, err = V(repeating: .infinity), id = V()
                    for step: Int32 in [0, -1, 1] {
                        let lc = l0 &+ SIMD8(repeating: step)
                        let valid = (lc .>= SIMD8(repeating: -32)) .& (lc .<= SIMD8(repeating: 31))
                        let dl = V(repeating: D) * ExactIntegers.float(lc)
                        let ic = NonLinearSearch.reciprocal(dl)
                        let e = NonLinearSearch.error(xt, wt, scale: dl, id: ic)
                        let better = valid .& (e .< err)
                        err.replace(with: e, where: better)
                        id.replace(with: ic, where: better)
                        l.replace(with: lc, where: better)
                    }
                    let total = err.sum()
                    if total < bestTotal { bestTotal = total; bestD = D; bestL = l; bestId = id }
                }
                store(xt, d: bestD, l: bestL, id: bestId, into: out)
            }
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? { q8Row }

    /// IQ4_XS: in sub-block ib w = d·(ls_ib − 32)·table[q], so Σ w·x = Σ_ib d·(ls_ib − 32)·d_x·Σ table[q]·q_x
    /// (as ggml's `vec_dot_iq4_xs_q8_K`, with 32-wide activation blocks). A row that is not a
    /// multiple of 256 ends in IQ4_NL blocks (`DType.traits.tailType`).
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        let d = a.scales, blocks = a.blocks
        let superBlocks = blocks / 8
        var acc = Q8Dot.V(), acc2 = Q8Dot.V()
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            var ls = SIMD8<Int32>()
            for ib in 0..<8 { ls[ib] = Int32(subScale(blk, ib) - 32) }
            let f = Q8Dot.V(repeating: loadHalf(blk, 0)) * ExactIntegers.float(ls) * UnsafeRawPointer(d + 8 * sb).loadUnaligned(as: Q8Dot.V.self)
            for c in 0..<4 {
                let j = 8 * sb + 2 * c
                acc.addProduct(ExactIntegers.float(Q8Dot.signedSum(BlockIQ4_NL.values(blk + 8 + 32 * c), a, j)), Q8Dot.V(repeating: f[2 * c]))
                acc2.addProduct(ExactIntegers.float(Q8Dot.signedSum(BlockIQ4_NL.values(blk + 24 + 32 * c), a, j + 1)), Q8Dot.V(repeating: f[2 * c + 1]))
            }
        }
        var total = (acc + acc2).sum()
        let done = 8 * superBlocks
        if blocks > done { total += BlockIQ4_NL.q8Row(w + layoutBytes * superBlocks, a.dropping(done)) }
        return total
    }

    /// The same one weight at a time (what `Q8DotTests` holds the kernel to).
    static func q8RowScalar(_ w: UnsafeRawPointer, _ x: UnsafePointer<Q8Activation.Lanes>, _ d: UnsafePointer<Float>, _ blocks: Int) -> Float {
        let superBlocks = blocks / 8
        var total: Float = 0
        for sb in 0..<superBlocks {
            let blk = w + layoutBytes * sb
            for ib in 0..<8 {
                let b = 8 * sb + ib
                var s = 0
                for j in 0..<32 {
                    let byte = blk.load(fromByteOffset: 8 + 16 * ib + j % 16, as: UInt8.self)
                    let q = j < 16 ? byte & 0x0F : byte >> 4
                    s += Int(NonLinearSearch.table[Int(q)]) * Int(x[2 * b + (j & 1)][j / 2])
                }
                total += Float(s) * loadHalf(blk, 0) * Float(subScale(blk, ib) - 32) * d[b]
            }
        }
        let done = 8 * superBlocks
        if blocks > done { total += BlockIQ4_NL.q8RowScalar(w + layoutBytes * superBlocks, x + 2 * done, d + done, blocks - done) }
        return total
    }
}
