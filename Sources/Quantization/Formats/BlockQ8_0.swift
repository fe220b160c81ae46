import TensorCore

/// Q8_0: 32 weights = f16 scale d + 32 × int8; w = d·q. 34 bytes, 8.5 bits per weight.
public enum BlockQ8_0: EightBlockSearch {
    public static let dtype = DType.q8_0

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        for j in 0..<32 { out[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
    }

    /// ggml `quantize_row_q8_0_ref`: d = max|x| / 127, q = roundf(x / d).
    public static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
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

    public static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        // No comparison with the reference block: the search tries the reference's own
        // scale (f16-rounded, as stored) with the best levels for it, so it is never worse.
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            let d = ScaleSearch.symmetric(x, 32, weights: weights, qmin: -127, qmax: 127, levels: q.baseAddress!)
            storeHalf(block, 0, d)
            for j in 0..<32 { block.storeBytes(of: q[j], toByteOffset: 2 + j, as: Int8.self) }
        }
    }

    public static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer) {
        ScaleSearch8.symmetricBlocks(x, importance: importance, qmin: -127, qmax: 127, fitted: false) { b, d, q in
            let block = blocks + dtype.blockBytes * b
            storeHalf(block, 0, d)
            (block + 2).copyMemory(from: q, byteCount: 32)
        }
    }
}
