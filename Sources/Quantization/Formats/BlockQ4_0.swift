import TensorCore

/// Q4_0: 32 weights = f16 scale d + 16 bytes of nibbles; low nibbles are weights 0…15, high
/// nibbles 16…31; w = d·(q − 8). 18 bytes, 4.5 bits per weight.
public enum BlockQ4_0: EightBlockSearch {
    public static let dtype = DType.q4_0

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
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
    public static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
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

    public static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer) {
        // No comparison with the reference block: the search tries the reference's own
        // scale (f16-rounded, as stored) with the best levels for it, so it is never worse
        // (up to the float rounding of FittedSearch's error form).
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
            let d = FittedSearch.symmetric(x, 32, weights: weights, qmin: -8, qmax: 7, levels: q.baseAddress!)
            storeHalf(block, 0, d)
            pack({ UInt8(Int(q[$0]) + 8) }, into: block)
        }
    }

    public static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer) {
        ScaleSearch8.symmetricBlocks(x, importance: importance, qmin: -8, qmax: 7, fitted: true) { b, d, q in
            let block = blocks + dtype.blockBytes * b
            storeHalf(block, 0, d)
            ReferenceLevels.packNibbles(levels: q, bias: 8, into: block + 2)
        }
    }
}
