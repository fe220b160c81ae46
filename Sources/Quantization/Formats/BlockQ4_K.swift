import TensorCore

/// Q4_K: 256 weights in 8 sub-blocks of 32 = f16 d + f16 dmin + 12 bytes of packed 6-bit
/// sub-scales and sub-mins + 128 bytes of nibbles; w = d·sc·q − dmin·m. 144 bytes, 4.5 bpw.
public enum BlockQ4_K: BlockFormat {
    public static let dtype = DType.q4_k

    /// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j`.
    @inline(__always)
    static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (UInt8, UInt8) {
        func b(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
        return ((b(j + 4) & 0x0F) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4))
    }

    public static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let dmin = loadHalf(block, 2)
        let scales = block + 4
        var q = block + 16
        var y = out
        var s = 0
        for _ in 0..<4 {
            let (sc1, m1) = scaleMin(s, scales)
            let (sc2, m2) = scaleMin(s + 1, scales)
            let d1 = d * Float(sc1), mm1 = dmin * Float(m1)
            let d2 = d * Float(sc2), mm2 = dmin * Float(m2)
            for l in 0..<32 { y[l] = d1 * Float(q.load(fromByteOffset: l, as: UInt8.self) & 0x0F) - mm1 }
            for l in 0..<32 { y[l + 32] = d2 * Float(q.load(fromByteOffset: l, as: UInt8.self) >> 4) - mm2 }
            q += 32
            y += 64
            s += 2
        }
    }
}
