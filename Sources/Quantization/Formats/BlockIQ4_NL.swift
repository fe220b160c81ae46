import TensorCore
#if arch(x86_64) && TRAMONTANE_AVX2
import _Builtin_intrinsics.intel
#endif

/// IQ4_NL: 32 weights = f16 scale d + 16 bytes of 4-bit indices into ggml's fixed non-linear
/// table `kvalues_iq4nl` (low nibbles weights 0…15, high nibbles 16…31); w = d·table[q].
/// 18 bytes, 4.5 bits per weight. The table's steps grow towards its ends, so the levels are
/// denser where weights are: at the same size as Q4_0, a lower error on bell-shaped blocks.
package enum BlockIQ4_NL: EightBlockSearch {
    package static let dtype = DType.iq4_nl
    package static let layoutBytes = 2 + 16   // f16 d, 16 B indices

    /// ggml's `dequantize_row_iq4_nl`: d · table[q] in f32.
    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let t = NonLinearSearch.table
        for j in 0..<16 {
            let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
            out[j] = d * Float(t[Int(q & 0x0F)])
            out[j + 16] = d * Float(t[Int(q >> 4)])
        }
    }

    /// Eight blocks from lanes: scale `d[b]` stored as f16, levels nearest x·id[b].
    @inline(__always)
    static func store(_ xt: UnsafePointer<SIMD8<Float>>, scale d: SIMD8<Float>, id: SIMD8<Float>, into blocks: UnsafeMutableRawPointer, count: Int = 8) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { L in
            NonLinearSearch.levels(xt, id: id, into: L.baseAddress!)
            for b in 0..<count {
                let block = blocks + layoutBytes * b
                storeHalf(block, 0, d[b])
                ReferenceLevels.packNibbles(levels: L.baseAddress! + 32 * b, bias: 0, into: block + 2)
            }
        }
    }

    /// ggml's `quantize_iq4_nl` without an importance matrix (what `llama-quantize` writes):
    /// weights x², the extreme mapped to ±127 and −127 + t for t = −7…7 with least-squares
    /// refits, d stored as f16, levels nearest x/d for the unrounded d. Bit for bit, one block
    /// in lane 0 of the eight-lane search.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        oneBlock(x, weights: nil) { xt, _ in
            let d = reference(xt)
            store(xt, scale: d, id: NonLinearSearch.reciprocal(d), into: block, count: 1)
        }
    }

    /// The reference's unrounded scales for eight blocks in lanes (weights x²).
    @inline(__always) static func reference(_ xt: UnsafeMutablePointer<SIMD8<Float>>) -> SIMD8<Float> {
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 32) { w in
            for j in 0..<32 { w[j] = xt[j] * xt[j] }
            return NonLinearSearch.ggmlScales(xt, w.baseAddress!, ntry: 7)
        }
    }

    /// One block (with its weights) in lane 0 of eight, the other lanes zero.
    static func oneBlock(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?,
                         _ body: (UnsafeMutablePointer<SIMD8<Float>>, UnsafeMutablePointer<SIMD8<Float>>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 512) { buf in
            let xs = buf.baseAddress!, ws = xs + 256
            xs.initialize(repeating: 0, count: 512)
            xs.update(from: x, count: 32)
            if let weights { ws.update(from: weights, count: 32) } else { ws.update(repeating: 1, count: 32) }
            ScaleSearch8.withLanes(xs, .given(ws), 32, body)
        }
    }

    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        oneBlock(x, weights: weights) { xt, wt in
            let (d, id) = NonLinearSearch.searchScales(xt, wt, reference: reference(xt))
            store(xt, scale: d, id: id, into: block, count: 1)
        }
    }

    package static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer) {
        ScaleSearch8.withLanes(x, .importance(importance), 32) { xt, wt in
            let (d, id) = NonLinearSearch.searchScales(xt, wt, reference: reference(xt))
            store(xt, scale: d, id: id, into: blocks)
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? { q8Row }

    /// The 32 table values of a block's indices (16 bytes at `p`), as int8 in the byte order of
    /// `Q8Dot.nibbles` (byte k = weight k), two per 16-bit lane: one `vpshufb` of the table
    /// with the indices on AVX2 builds, a select per table entry elsewhere.
    @inline(__always) static func values(_ p: UnsafeRawPointer) -> Q8Activation.Lanes {
        #if arch(x86_64) && TRAMONTANE_AVX2
        let t = NonLinearSearch.table
        let table = SIMD32<Int8>(lowHalf: t, highHalf: t)
        return unsafeBitCast(_mm256_shuffle_epi8(unsafeBitCast(table, to: __m256i.self), unsafeBitCast(Q8Dot.nibbles(p), to: __m256i.self)), to: Q8Activation.Lanes.self)
        #else
        return portableValues(p)
        #endif
    }

    /// `values` without AVX2 (`IQ4Tests` holds the two equal): a select per table entry.
    @inline(__always) static func portableValues(_ p: UnsafeRawPointer) -> Q8Activation.Lanes {
        let q = unsafeBitCast(Q8Dot.nibbles(p), to: SIMD32<UInt8>.self)
        var v = SIMD32<Int8>()
        for k in 0..<16 { v.replace(with: NonLinearSearch.table[k], where: q .== UInt8(k)) }
        return unsafeBitCast(v, to: Q8Activation.Lanes.self)
    }

    /// IQ4_NL: w = d·table[q], so Σ w·x = d·d_x·Σ table[q]·q_x (as ggml's `vec_dot_iq4_nl_q8_0`).
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        @inline(__always) func block(_ b: Int) -> Q8Dot.V {
            let blk = w + layoutBytes * b
            return ExactIntegers.float(Q8Dot.signedSum(values(blk + 2), a, b)) * Q8Dot.V(repeating: loadHalf(blk, 0) * a.scales[b])
        }
        return RowDot.sumOfBlocks(a.blocks, block).sum()
    }

    /// The same one weight at a time, in integers per block (what `Q8DotTests` holds the kernel to).
    static func q8RowScalar(_ w: UnsafeRawPointer, _ x: UnsafePointer<Q8Activation.Lanes>, _ d: UnsafePointer<Float>, _ blocks: Int) -> Float {
        var total: Float = 0
        for b in 0..<blocks {
            let blk = w + layoutBytes * b
            var s = 0
            for j in 0..<32 {
                let byte = blk.load(fromByteOffset: 2 + j % 16, as: UInt8.self)
                let q = j < 16 ? byte & 0x0F : byte >> 4
                s += Int(NonLinearSearch.table[Int(q)]) * Int(x[2 * b + (j & 1)][j / 2])
            }
            total += Float(s) * loadHalf(blk, 0) * d[b]
        }
        return total
    }
}
