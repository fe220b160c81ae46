import TensorCore

/// Q4_1: 32 weights = f16 scale d + f16 minimum m + 16 bytes of nibbles; w = d·q + m.
/// 20 bytes, 5.0 bits per weight.
public enum BlockQ4_1: BlockFormat {
    public static let dtype = DType.q4_1

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let m = loadHalf(block, 2)
        for j in 0..<16 {
            let q = block.load(fromByteOffset: 4 + j, as: UInt8.self)
            out[j] = Float(q & 0x0F) * d + m
            out[j + 16] = Float(q >> 4) * d + m
        }
    }
}
