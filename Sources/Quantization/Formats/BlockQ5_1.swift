import TensorCore

/// Q5_1: 32 weights = f16 scale d + f16 minimum m + 32 high bits + 16 bytes of low nibbles;
/// w = d·q + m. 24 bytes, 6.0 bits per weight.
package enum BlockQ5_1: EightBlockSearch {
    package static let dtype = DType.q5_1
    package static let layoutBytes = 2 + 2 + 4 + 16   // f16 d, f16 m, u32 high bits, 16 B low nibbles

    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let m = loadHalf(block, 2)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        for j in 0..<16 {
            let q = block.load(fromByteOffset: 8 + j, as: UInt8.self)
            let h0 = UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) << 4) & 0x10)
            let h1 = UInt8(truncatingIfNeeded: (qh >> UInt32(j + 12)) & 0x10)
            out[j] = Float((q & 0x0F) | h0) * d + m
            out[j + 16] = Float((q >> 4) | h1) * d + m
        }
    }

    /// ggml `quantize_row_q5_1_ref`: d = (max − min)/31.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let (lo, hi) = BlockExtremes.range(x, 32)
        let d = (hi - lo) / 31
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(block, 0, d)
        storeHalf(block, 2, lo)
        BlockQ5_0.pack({ UInt8(min(31, max(0, Int((x[$0] - lo) * id + 0.5)))) }, into: block, at: 4)
    }

    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        // No comparison with the reference block: the first candidate is the reference's own
        // (d, min), f16-rounded as stored, with the nearest levels for it, so never worse
        // (up to the float rounding of FittedSearch's error form).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            let (d, m) = FittedSearch.asymmetric(x, 32, weights: weights, nmax: 31, levels: q.baseAddress!)
            storeHalf(block, 0, d)
            storeHalf(block, 2, m)
            BlockQ5_0.pack({ q[$0] }, into: block, at: 4)
        }
    }

    package static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer) {
        ScaleSearch8.asymmetricBlocks(x, importance: importance, nmax: 31) { b, d, m, q in
            let block = blocks + dtype.blockBytes * b
            storeHalf(block, 0, d)
            storeHalf(block, 2, m)
            BlockQ5_0.pack({ q[$0] }, into: block, at: 4)
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? { q8Row }

    /// Q5_1: w = d·q + m with q in 0…31, as ggml's `ggml_vec_dot_q5_1_q8_1`:
    /// Σ w·x = d·d_x·Σ q·q_x + m·(d_x·Σ q_x).
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        @inline(__always) func block(_ b: Int) -> (Q8Dot.V, Float) {
            let blk = w + layoutBytes * b
            let qh = UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let q = Q8Dot.nibbles(blk + 8) | Q8Dot.highBits(qh)
            return (ExactIntegers.float(Q8Dot.unsignedSum(q, a, b)) * Q8Dot.V(repeating: loadHalf(blk, 0) * a.scales[b]), loadHalf(blk, 2) * a.sums[b])
        }
        let (v, minimums) = RowDot.sumOfBlocksWithTerm(a.blocks, block)
        return v.sum() + minimums
    }
}
