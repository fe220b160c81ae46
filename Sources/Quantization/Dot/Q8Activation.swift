/// An activation row quantized as ggml quantizes activations for its integer dot products
/// (`quantize_row_q8_0`): blocks of 32, scale d = max|x| / 127, q = round(x / d) in −127 … 127
/// (a NaN activation cannot trap: levels are clamped).
/// The scale stays f32 (ggml rounds it to f16). Stored the way the kernels in `Q8Dot` read it:
/// per block the 32 q as two vectors of 16 sign-extended int16 — positions 0, 2, 4, … and
/// 1, 3, 5, … — so a kernel multiplies 16-bit lanes without widening the activation again;
/// plus d and d·Σq (what Q4_1's minimum multiplies). The same levels also as int8 in position
/// order (32 bytes a block), for kernels that multiply bytes (`vpmaddubsw`).
package struct Q8Activation {
    package typealias Lanes = SIMD16<Int16>
    package static let blockSize = 32
    package let count: Int
    package var blocks: Int { count / Self.blockSize }
    var lanes: [Lanes]
    var bytes: [Int8]
    var scales: [Float]
    var scaledSums: [Float]

    /// Quantizes `x[0 ..< count]`; `count` must be a multiple of 32 (callers check `accepts`).
    package init(_ x: UnsafePointer<Float>, count: Int) {
        self.count = count
        let nb = count / Self.blockSize
        lanes = [Lanes](repeating: Lanes(), count: 2 * nb)
        bytes = [Int8](repeating: 0, count: count)
        scales = [Float](repeating: 0, count: nb)
        scaledSums = [Float](repeating: 0, count: nb)
        for b in 0..<nb {
            let (d, l) = Self.quantizeBlock(UnsafeRawPointer(x + Self.blockSize * b))
            // value j of each 8 in 16-bit lane 2j
            let a0 = unsafeBitCast(l.0, to: SIMD16<Int16>.self), a1 = unsafeBitCast(l.1, to: SIMD16<Int16>.self)
            let a2 = unsafeBitCast(l.2, to: SIMD16<Int16>.self), a3 = unsafeBitCast(l.3, to: SIMD16<Int16>.self)
            let even = Lanes(a0[0], a0[4], a0[8], a0[12], a1[0], a1[4], a1[8], a1[12],
                             a2[0], a2[4], a2[8], a2[12], a3[0], a3[4], a3[8], a3[12])
            let odd = Lanes(a0[2], a0[6], a0[10], a0[14], a1[2], a1[6], a1[10], a1[14],
                            a2[2], a2[6], a2[10], a2[14], a3[2], a3[6], a3[10], a3[14])
            let pairs = unsafeBitCast(even &+ odd, to: SIMD8<Int32>.self)   // |even + odd| ≤ 254
            let s32 = ((pairs &<< 16) &>> 16) &+ (pairs &>> 16)           // 16-bit lane pairs, sign-extended
            lanes[2 * b] = even
            for j in 0..<8 {
                bytes[32 * b + j] = Int8(truncatingIfNeeded: l.0[j])
                bytes[32 * b + 8 + j] = Int8(truncatingIfNeeded: l.1[j])
                bytes[32 * b + 16 + j] = Int8(truncatingIfNeeded: l.2[j])
                bytes[32 * b + 24 + j] = Int8(truncatingIfNeeded: l.3[j])
            }
            lanes[2 * b + 1] = odd
            scales[b] = d
            scaledSums[b] = d * Float(s32.wrappedSum())
        }
    }

    /// One block of 32 values from `xr`: its scale d = max|x| / 127 and the levels round(x / d),
    /// ties to even (a scalar `rounded()` is a libm call per value), clamped to ±127 so a NaN
    /// input gives some level, never a trap; values 8k … 8k + 7 in the k-th vector. Shared with
    /// `Q8Tokens`.
    @inline(__always)
    static func quantizeBlock(_ xr: UnsafeRawPointer) -> (Float, (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>)) {
        typealias V = SIMD8<Float>
        typealias I = SIMD8<Int32>
        // max |x| with compare-and-blend (the generic pointwiseMax is an out-of-line call)
        var m = V()
        for k in 0..<4 {
            let v = xr.loadUnaligned(fromByteOffset: 32 * k, as: V.self)
            let a = v.replacing(with: -v, where: v .< 0)
            m = m.replacing(with: a, where: a .> m)
        }
        var mx: Float = 0
        for i in 0..<8 { mx = Swift.max(mx, m[i]) }
        let d = mx / 127
        let id = V(repeating: d != 0 ? 1 / d : 0)
        let lo = I(repeating: -127), hi = I(repeating: 127)
        func levels(_ k: Int) -> I {
            let r = ExactIntegers.rounded(xr.loadUnaligned(fromByteOffset: 32 * k, as: V.self) * id)
            return r.replacing(with: lo, where: r .< lo).replacing(with: hi, where: r .> hi)
        }
        return (d, (levels(0), levels(1), levels(2), levels(3)))
    }

    /// Whether a row of `count` values can be quantized this way.
    package static func accepts(_ count: Int) -> Bool { count > 0 && count % blockSize == 0 }

    /// The quantized value at position `i` (for references and tests).
    package func value(_ i: Int) -> Float {
        let b = i / Self.blockSize, j = i % Self.blockSize
        return Float(lanes[2 * b + (j & 1)][j / 2]) * scales[b]
    }

    /// Calls `body` with the view the kernels read (`Q8Row`), without copying.
    func withRow<R>(_ body: (Q8Row) -> R) -> R {
        lanes.withUnsafeBufferPointer { l in bytes.withUnsafeBufferPointer { q in
            scales.withUnsafeBufferPointer { s in scaledSums.withUnsafeBufferPointer { m in
                body(Q8Row(lanes: l.baseAddress!, bytes: q.baseAddress!, scales: s.baseAddress!, sums: m.baseAddress!, blocks: blocks))
            } }
        } }
    }

    /// Calls `body` with the three arrays the lane kernels read, without copying.
    func withBuffers<R>(_ body: (UnsafePointer<Lanes>, UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        withRow { body($0.lanes, $0.scales, $0.sums) }
    }
}

/// What a `Q8RowDot` kernel reads of a `Q8Activation`: per 32-value block two vectors of int16
/// lanes (even, odd positions), 32 int8 levels in position order, the scale d and d·Σq.
package struct Q8Row {
    package let lanes: UnsafePointer<Q8Activation.Lanes>
    package let bytes: UnsafePointer<Int8>
    package let scales: UnsafePointer<Float>
    package let sums: UnsafePointer<Float>
    package let blocks: Int

    /// The same activation without its first `n` blocks (a row's tail blocks).
    @inline(__always) package func dropping(_ n: Int) -> Q8Row {
        Q8Row(lanes: lanes + 2 * n, bytes: bytes + 32 * n, scales: scales + n, sums: sums + n, blocks: blocks - n)
    }
}
