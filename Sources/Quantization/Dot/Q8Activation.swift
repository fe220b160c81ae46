/// An activation row quantized as ggml quantizes activations for its integer dot products
/// (`quantize_row_q8_0`): blocks of 32, scale d = max|x| / 127, q = round(x / d) in −127 … 127
/// (a NaN activation cannot trap: levels are clamped).
/// The scale stays f32 (ggml rounds it to f16). Stored the way the kernels in `Q8Dot` read it:
/// per block the 32 q as two vectors of 16 sign-extended int16 — positions 0, 2, 4, … and
/// 1, 3, 5, … — so a kernel multiplies 16-bit lanes without widening the activation again;
/// plus d and d·Σq (what Q4_1's minimum multiplies).
public struct Q8Activation {
    public typealias Lanes = SIMD16<Int16>
    public static let blockSize = 32
    public let count: Int
    public var blocks: Int { count / Self.blockSize }
    var lanes: [Lanes]
    var scales: [Float]
    var scaledSums: [Float]

    /// Quantizes `x[0 ..< count]`; `count` must be a multiple of 32 (callers check `accepts`).
    public init(_ x: UnsafePointer<Float>, count: Int) {
        self.count = count
        let nb = count / Self.blockSize
        lanes = [Lanes](repeating: Lanes(), count: 2 * nb)
        scales = [Float](repeating: 0, count: nb)
        scaledSums = [Float](repeating: 0, count: nb)
        for b in 0..<nb {
            let xb = x + Self.blockSize * b
            var m: Float = 0
            for i in 0..<Self.blockSize { m = max(m, abs(xb[i])) }
            let d = m / 127
            let id: Float = d != 0 ? 1 / d : 0
            var even = Lanes(), odd = Lanes()
            var sum: Int32 = 0
            for j in 0..<16 {
                let e = Self.level(xb[2 * j] * id), o = Self.level(xb[2 * j + 1] * id)
                even[j] = e
                odd[j] = o
                sum += Int32(e) + Int32(o)
            }
            lanes[2 * b] = even
            lanes[2 * b + 1] = odd
            scales[b] = d
            scaledSums[b] = d * Float(sum)
        }
    }

    /// round(v) clamped to ±127; NaN becomes −127 instead of trapping.
    @inline(__always) static func level(_ v: Float) -> Int16 { Int16(Swift.min(127, Swift.max(-127, v.rounded()))) }

    /// Whether a row of `count` values can be quantized this way.
    public static func accepts(_ count: Int) -> Bool { count > 0 && count % blockSize == 0 }

    /// The quantized value at position `i` (for references and tests).
    public func value(_ i: Int) -> Float {
        let b = i / Self.blockSize, j = i % Self.blockSize
        return Float(lanes[2 * b + (j & 1)][j / 2]) * scales[b]
    }

    /// Calls `body` with the three arrays the kernels read, without copying.
    func withBuffers<R>(_ body: (UnsafePointer<Lanes>, UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        lanes.withUnsafeBufferPointer { l in scales.withUnsafeBufferPointer { s in scaledSums.withUnsafeBufferPointer { m in
            body(l.baseAddress!, s.baseAddress!, m.baseAddress!)
        } } }
    }
}
