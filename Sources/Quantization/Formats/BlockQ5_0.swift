import TensorCore

/// Q5_0: 32 weights = f16 scale d + 32 high bits (u32) + 16 bytes of low nibbles;
/// w = d·(q − 16). 22 bytes, 5.5 bits per weight.
public enum BlockQ5_0: BlockFormat {
    public static let dtype = DType.q5_0

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
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
}
