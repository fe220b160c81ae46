import TensorCore

/// Q5_1: 32 weights = f16 scale d + f16 minimum m + 32 high bits + 16 bytes of low nibbles;
/// w = d·q + m. 24 bytes, 6.0 bits per weight.
public enum BlockQ5_1: BlockFormat {
    public static let dtype = DType.q5_1

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
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
}
