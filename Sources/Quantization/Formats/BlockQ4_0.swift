import TensorCore

/// Q4_0: 32 weights = f16 scale d + 16 bytes of nibbles; low nibbles are weights 0…15, high
/// nibbles 16…31; w = d·(q − 8). 18 bytes, 4.5 bits per weight.
public enum BlockQ4_0: BlockFormat {
    public static let dtype = DType.q4_0

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        for j in 0..<16 {
            let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
            out[j] = Float(Int(q & 0x0F) - 8) * d
            out[j + 16] = Float(Int(q >> 4) - 8) * d
        }
    }
}
