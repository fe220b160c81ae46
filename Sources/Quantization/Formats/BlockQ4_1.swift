import TensorCore

/// Q4_1: 32 weights = f16 scale d + f16 minimum m + 16 bytes of nibbles; w = d·q + m.
/// 20 bytes, 5.0 bits per weight.
package enum BlockQ4_1: EightBlockSearch {
    package static let dtype = DType.q4_1
    package static let layoutBytes = 2 + 2 + 16   // f16 d, f16 m, 16 B nibbles

    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let m = loadHalf(block, 2)
        for j in 0..<16 {
            let q = block.load(fromByteOffset: 4 + j, as: UInt8.self)
            out[j] = Float(q & 0x0F) * d + m
            out[j + 16] = Float(q >> 4) * d + m
        }
    }

    static func pack(_ q: (Int) -> UInt8, into block: UnsafeMutableRawPointer) {
        for j in 0..<16 { block.storeBytes(of: q(j) | (q(j + 16) << 4), toByteOffset: 4 + j, as: UInt8.self) }
    }

    /// ggml `quantize_row_q4_1_ref`: d = (max − min)/15, q = min(15, ⌊(x − min)/d + 0.5⌋).
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let (lo, hi) = BlockExtremes.range(x, 32)
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(block, 0, d)
        storeHalf(block, 2, lo)
        ReferenceLevels.packNibbles(x, sub: lo, id: id, add: 0.5, into: block + 4)
    }

    /// The same, one weight at a time (what `ReferenceLevelsTests` holds the SIMD form to).
    static func quantizeReferenceScalar(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let (lo, hi) = BlockExtremes.rangeScalar(x, 32)
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(block, 0, d)
        storeHalf(block, 2, lo)
        pack({ UInt8(min(15, max(0, Int((x[$0] - lo) * id + 0.5)))) }, into: block)
    }

    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        // No comparison with the reference block: the first candidate is the reference's own
        // (d, min), f16-rounded as stored, with the nearest levels for it, so never worse
        // (up to the float rounding of FittedSearch's error form).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            let (d, m) = FittedSearch.asymmetric(x, 32, weights: weights, nmax: 15, levels: q.baseAddress!)
            storeHalf(block, 0, d)
            storeHalf(block, 2, m)
            ReferenceLevels.packNibbles(levels: q.baseAddress!, bias: 0, into: block + 4)
        }
    }

    package static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer) {
        ScaleSearch8.asymmetricBlocks(x, importance: importance, nmax: 15) { b, d, m, q in
            let block = blocks + dtype.blockBytes * b
            storeHalf(block, 0, d)
            storeHalf(block, 2, m)
            ReferenceLevels.packNibbles(levels: q, bias: 0, into: block + 4)
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    package static var q8Dot: Q8RowDot? { q8Row }

    /// Q4_1: w = d·q + m, so Σ w·x = d·d_x·Σ q·q_x + m·(d_x·Σ q_x).
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        @inline(__always) func block(_ b: Int) -> (Q8Dot.V, Float) {
            let blk = w + layoutBytes * b
            return (ExactIntegers.float(Q8Dot.unsignedSum(Q8Dot.nibbles(blk + 4), a, b)) * Q8Dot.V(repeating: loadHalf(blk, 0) * a.scales[b]),
                    loadHalf(blk, 2) * a.sums[b])
        }
        let (v, minimums) = RowDot.sumOfBlocksWithTerm(a.blocks, block)
        return v.sum() + minimums
    }

    /// Streamed every token: held in huge pages.
    package static var residency: MatrixResidency { .hugePageCopy }
}
