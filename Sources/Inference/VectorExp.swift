/// e^x for 8 lanes at once, for softmax and SiLU: glibc's `expf` is a call per element (a tenth
/// of prompt time went to it). Cephes' `expf` scheme: x = n·ln2 + r with n = round(x·log₂e)
/// (ln2 split in two so r is exact enough), e^r by a degree-6 polynomial, 2ⁿ built in the
/// exponent bits. Relative error below 3e-7 (`VectorExpTests`); below −87.3 the result is 0, above
/// 88.3 it is clamped (e^88.3 ≈ 2.2e38), NaN stays NaN.
package enum VectorExp {
    package typealias V = SIMD8<Float>

    @inline(__always) package static func exp(_ x: V) -> V {
        let lo = V(repeating: -87.3), hi = V(repeating: 88.3)
        let xc = x.replacing(with: hi, where: x .> hi).replacing(with: lo, where: x .< lo)
        let magic = V(repeating: 12_582_912)           // 1.5·2²³: adding it rounds to an integer
        let t = xc * 1.442_695_04 + magic
        let n = t - magic
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        var r = xc - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p = V(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_58e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let y = p * (r * r) + r + 1
        let scale = unsafeBitCast((ni &+ 127) &<< 23, to: V.self)
        return (y * scale).replacing(with: 0, where: x .< lo)
    }

    /// x·σ(x) = x / (1 + e^−x), lane-wise.
    @inline(__always) package static func silu(_ x: V) -> V { x / (1 + exp(-x)) }
}
