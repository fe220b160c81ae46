import TensorCore

/// Q4_0: 32 weights = f16 scale d + 16 bytes of nibbles; low nibbles are weights 0…15, high
/// nibbles 16…31; w = d·(q − 8). 18 bytes, 4.5 bits per weight.
package enum BlockQ4_0: EightBlockSearch {
    package static let dtype = DType.q4_0
    package static let layoutBytes = 2 + 16   // f16 d, 16 B nibbles

    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        for j in 0..<16 {
            let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
            out[j] = Float(Int(q & 0x0F) - 8) * d
            out[j + 16] = Float(Int(q >> 4) - 8) * d
        }
    }

    static func pack(_ q: (Int) -> UInt8, into block: UnsafeMutableRawPointer) {
        for j in 0..<16 { block.storeBytes(of: q(j) | (q(j + 16) << 4), toByteOffset: 2 + j, as: UInt8.self) }
    }

    /// ggml `quantize_row_q4_0_ref`: the signed extreme maps to −8, q = min(15, ⌊x/d + 8.5⌋).
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let (_, vmax) = BlockExtremes.signedMax(x, 32)
        let d = vmax / -8
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(block, 0, d)
        ReferenceLevels.packNibbles(x, sub: 0, id: id, add: 8.5, into: block + 2)
    }

    /// The same, one weight at a time (what `ReferenceLevelsTests` holds the SIMD form to).
    static func quantizeReferenceScalar(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let (_, vmax) = BlockExtremes.signedMaxScalar(x, 32)
        let d = vmax / -8
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(block, 0, d)
        pack({ UInt8(min(15, max(0, Int(x[$0] * id + 8.5)))) }, into: block)
    }

    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        // No comparison with the reference block: the search tries the reference's own
        // scale (f16-rounded, as stored) with the best levels for it, so it is never worse
        // (up to the float rounding of FittedSearch's error form).
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            let d = FittedSearch.symmetric(x, 32, weights: weights, qmin: -8, qmax: 7, levels: q.baseAddress!)
            storeHalf(block, 0, d)
            pack({ UInt8(Int(q[$0]) + 8) }, into: block)
        }
    }

    package static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer) {
        ScaleSearch8.symmetricBlocks(x, importance: importance, qmin: -8, qmax: 7, fitted: true) { b, d, q in
            let block = blocks + dtype.blockBytes * b
            storeHalf(block, 0, d)
            ReferenceLevels.packNibbles(levels: q, bias: 8, into: block + 2)
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    /// Σ w·x against f32 x: per block d · Σ (q − 8)·x (`scratch` unused), low nibbles weights 0…15, high nibbles 16…31.
    package static func dot(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, scratch: UnsafeMutablePointer<Float>) -> Float {
        let xr = UnsafeRawPointer(x)
        let eight = RowDot.V(repeating: 8)
        @inline(__always) func block(_ b: Int) -> RowDot.V {
            let blk = w + layoutBytes * b
            let d = Float(Float16(bitPattern: blk.loadUnaligned(as: UInt16.self)))
            let b0 = SIMD8<UInt32>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: 2, as: SIMD8<UInt8>.self))
            let b1 = SIMD8<UInt32>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: 10, as: SIMD8<UInt8>.self))
            var a = (RowDot.V(b0 & 0x0F) - eight) * RowDot.load8(xr, 128 * b)
            var c = (RowDot.V(b0 &>> 4) - eight) * RowDot.load8(xr, 128 * b + 64)
            a.addProduct(RowDot.V(b1 & 0x0F) - eight, RowDot.load8(xr, 128 * b + 32))
            c.addProduct(RowDot.V(b1 &>> 4) - eight, RowDot.load8(xr, 128 * b + 96))
            return (a + c) * RowDot.V(repeating: d)
        }
        return RowDot.sumOfBlocks(n / 32, block).total
    }

    package static var q8Dot: Q8RowDot? { q8Row }

    /// Q4_0: w = d·(q − 8), so Σ w·x = d·d_x·Σ q·q_x − 8·d·(d_x·Σ q_x).
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        @inline(__always) func block(_ b: Int) -> (Q8Dot.V, Float) {
            let blk = w + layoutBytes * b
            let dw = loadHalf(blk, 0)
            return (ExactIntegers.float(Q8Dot.unsignedSum(Q8Dot.nibbles(blk + 2), a, b)) * Q8Dot.V(repeating: dw * a.scales[b]), dw * a.sums[b])
        }
        let (v, offsets) = RowDot.sumOfBlocksWithTerm(a.blocks, block)
        return v.sum() - 8 * offsets
    }

    /// Repacked for the row-per-lane kernel (`PackedQ4_0`) where rows come in groups of 16.
    package static var residency: MatrixResidency { .repackedQ4_0 }
}
