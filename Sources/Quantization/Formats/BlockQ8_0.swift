import TensorCore

/// Q8_0: 32 weights = f16 scale d + 32 × int8; w = d·q. 34 bytes, 8.5 bits per weight.
package enum BlockQ8_0: EightBlockSearch {
    package static let dtype = DType.q8_0
    package static let layoutBytes = 2 + 32   // f16 d, 32 × i8 q

    package static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        for j in 0..<32 { out[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
    }

    /// ggml `quantize_row_q8_0_ref`: d = max|x| / 127, q = roundf(x / d).
    package static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let d = BlockExtremes.absMax(x, 32) / 127
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(block, 0, d)
        ReferenceLevels.storeRounded(x, id: id, into: block + 2)
    }

    /// The same, one weight at a time (what `ReferenceLevelsTests` holds the SIMD form to).
    static func quantizeReferenceScalar(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(block, 0, d)
        for j in 0..<32 { block.storeBytes(of: Int8((x[j] * id).rounded()), toByteOffset: 2 + j, as: Int8.self) }
    }

    package static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        // No comparison with the reference block: the search tries the reference's own
        // scale (f16-rounded, as stored) with the best levels for it, so it is never worse.
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            let d = ScaleSearch.symmetric(x, 32, weights: weights, qmin: -127, qmax: 127, levels: q.baseAddress!)
            storeHalf(block, 0, d)
            for j in 0..<32 { block.storeBytes(of: q[j], toByteOffset: 2 + j, as: Int8.self) }
        }
    }

    package static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer) {
        ScaleSearch8.symmetricBlocks(x, importance: importance, qmin: -127, qmax: 127, fitted: false) { b, d, q in
            let block = blocks + dtype.blockBytes * b
            storeHalf(block, 0, d)
            (block + 2).copyMemory(from: q, byteCount: 32)
        }
    }

    // MARK: Dot products (the engine's kernels; `Dot/` holds what they share)

    /// Σ w·x against f32 x: per block d · Σ q·x (`scratch` unused).
    package static func dot(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, scratch: UnsafeMutablePointer<Float>) -> Float {
        let xr = UnsafeRawPointer(x)
        @inline(__always) func block(_ b: Int) -> RowDot.V {
            let blk = w + layoutBytes * b
            let d = Float(Float16(bitPattern: blk.loadUnaligned(as: UInt16.self)))
            @inline(__always) func q(_ k: Int) -> RowDot.V { RowDot.V(SIMD8<Int32>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: 2 + 8 * k, as: SIMD8<Int8>.self))) }
            var a = q(0) * RowDot.load8(xr, 128 * b)
            var c = q(1) * RowDot.load8(xr, 128 * b + 32)
            a.addProduct(q(2), RowDot.load8(xr, 128 * b + 64))
            c.addProduct(q(3), RowDot.load8(xr, 128 * b + 96))
            return (a + c) * RowDot.V(repeating: d)
        }
        return RowDot.sumOfBlocks(n / 32, block).total
    }

    package static var q8Dot: Q8RowDot? { q8Row }

    /// Σ w·x against a Q8 activation: per block d_w·d_x·Σ q·q_x, summed exactly in integers (`sums` unused).
    static func q8Row(_ w: UnsafeRawPointer, _ a: Q8Row) -> Float {
        @inline(__always) func block(_ b: Int) -> Q8Dot.V {
            let blk = w + layoutBytes * b
            let s = Q8Dot.signedSum(blk.loadUnaligned(fromByteOffset: 2, as: Q8Activation.Lanes.self), a, b)
            return ExactIntegers.float(s) * Q8Dot.V(repeating: loadHalf(blk, 0) * a.scales[b])
        }
        return RowDot.sumOfBlocks(a.blocks, block).sum()
    }

    /// Streamed every token: held in huge pages.
    package static var residency: MatrixResidency { .hugePageCopy }

}
