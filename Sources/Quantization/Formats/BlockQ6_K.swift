import TensorCore

/// Q6_K: 256 weights in 16 sub-blocks of 16 = 128 bytes low nibbles + 64 bytes of 2-bit highs +
/// 16 int8 sub-scales + f16 d; w = d·sc·(q − 32). 210 bytes, 6.5625 bpw.
public enum BlockQ6_K: BlockFormat {
    public static let dtype = DType.q6_k

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 208)
        var ql = block
        var qh = block + 128
        var sc = block + 192
        var y = out
        for _ in 0..<2 {
            for l in 0..<32 {
                let i = l / 16
                let lo0 = ql.load(fromByteOffset: l, as: UInt8.self)
                let lo1 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                let h = qh.load(fromByteOffset: l, as: UInt8.self)
                let q1 = Int((lo0 & 0x0F) | ((h & 3) << 4)) - 32
                let q2 = Int((lo1 & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32
                func s(_ k: Int) -> Float { Float(sc.load(fromByteOffset: k, as: Int8.self)) }
                y[l] = d * s(i) * Float(q1)
                y[l + 32] = d * s(i + 2) * Float(q2)
                y[l + 64] = d * s(i + 4) * Float(q3)
                y[l + 96] = d * s(i + 6) * Float(q4)
            }
            y += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }
}
