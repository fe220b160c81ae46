import TensorCore

/// Q5_0: 32 weights = f16 scale d + 32 high bits (u32) + 16 bytes of low nibbles;
/// w = d·(q − 16). 22 bytes, 5.5 bits per weight.
package enum BlockQ5_0: EightBlockSearch {
    package static let dtype = DType.q5_0
    package static let layoutBytes = 2 + 4 + 16   // f16 d, u32 high bits, 16 B low nibbles

    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        for j in 0..<16 {
            let q = block.load(fromByteOffset: 6 + j, as: UInt8.self)
            let h0 = UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) << 4) & 0x10)
            let h1 = UInt8(truncatingIfNeeded: (qh >> UInt32(j + 12)) & 0x10)
            out[j] = Float(Int((q & 0x0F) | h0) - 16) * d
            out[j + 16] = Float(Int((q >> 4) | h1) - 16) * d
        }
    }

    /// Packs 32 five-bit levels: low nibbles as Q4, bit 4 of level j into bit j of qh.
    static func pack(_ q: (Int) -> UInt8, into block: UnsafeMutableRawPointer, at offset: Int) {
        var qh: UInt32 = 0
        for j in 0..<32 { qh |= UInt32(q(j) >> 4) << UInt32(j) }
        block.storeBytes(of: qh.littleEndian, toByteOffset: offset, as: UInt32.self)
        for j in 0..<16 { block.storeBytes(of: (q(j) & 0x0F) | ((q(j + 16) & 0x0F) << 4), toByteOffset: offset + 4 + j, as: UInt8.self) }
    }

    /// ggml `quantize_row_q5_0_ref`: the signed extreme maps to −16.
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let (_, vmax) = BlockExtremes.signedMax(x, 32)
        let d = vmax / -16
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(block, 0, d)
        pack({ UInt8(min(31, max(0, Int(x[$0] * id + 16.5)))) }, into: block, at: 2)
    }

    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        // No comparison with the reference block: the search tries the reference's own
        // scale (f16-rounded, as stored) with the best levels for it, so it is never worse
        // (up to the float rounding of FittedSearch's error form).
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            let d = FittedSearch.symmetric(x, 32, weights: weights, qmin: -16, qmax: 15, levels: q.baseAddress!)
            storeHalf(block, 0, d)
            pack({ UInt8(Int(q[$0]) + 16) }, into: block, at: 2)
        }
    }

    package static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer) {
        ScaleSearch8.symmetricBlocks(x, importance: importance, qmin: -16, qmax: 15, fitted: true) { b, d, q in
            let block = blocks + dtype.blockBytes * b
            storeHalf(block, 0, d)
            pack({ UInt8(Int(q[$0]) + 16) }, into: block, at: 2)
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? { q8Row }

    /// Q5_0: w = d·(q − 16), as ggml's `ggml_vec_dot_q5_0_q8_0`: per block d·d_x·Σ q·q_x summed
    /// exactly in integers (q = the nibble with the high bit as a fifth, 0 … 31, `unsignedSum`),
    /// less 16·d·(d_x·Σq_x) for the offset.
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        // A named inlined function, not a closure literal: the closure stayed a call per block.
        @inline(__always) func block(_ b: Int) -> (Q8Dot.V, Float) {
            let blk = w + layoutBytes * b
            let dw = loadHalf(blk, 0)
            let qh = UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let q = Q8Dot.nibbles(blk + 6) | Q8Dot.highBits(qh)
            return (ExactIntegers.float(Q8Dot.unsignedSum(q, a, b)) * Q8Dot.V(repeating: dw * a.scales[b]), dw * a.sums[b])
        }
        let (v, offsets) = RowDot.sumOfBlocksWithTerm(a.blocks, block)
        return v.sum() - 16 * offsets
    }
}
