import TensorCore

/// Q8_0: 32 weights = f16 scale d + 32 × int8; w = d·q. 34 bytes, 8.5 bits per weight.
public enum BlockQ8_0: BlockFormat {
    public static let dtype = DType.q8_0

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        for j in 0..<32 { out[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
    }
}
