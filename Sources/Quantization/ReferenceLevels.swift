/// The level computations of ggml's reference quantizers for Q8_0, Q4_0 and Q4_1, 8 lanes at a
/// time and bit for bit equal to the C expressions (the scalar forms sit beside each
/// `quantizeReference` caller's doc comment and in `ReferenceLevelsTests`).
enum ReferenceLevels {
    typealias V = SIMD8<Float>
    typealias I = SIMD8<Int32>

    /// C `roundf` lane-wise: half away from zero, exact for |v| < 2²² (`v − trunc(v)` is exact
    /// there; adding ±0.5 first would round 0.49999997 up).
    @inline(__always) static func roundHalfAway(_ v: V) -> V {
        let t = v.rounded(.towardZero)
        let r = v - t
        let one = V(repeating: 1)
        return t + V().replacing(with: one, where: r .>= 0.5).replacing(with: -one, where: r .<= -0.5)
    }

    /// `MIN(top, (int)((x − sub)·id + add))` with the argument known non-negative: the C cast
    /// truncates. `sub` 0 skips nothing: x − 0 is x exactly.
    @inline(__always) static func truncated(_ x: UnsafePointer<Float>, _ k: Int, sub: Float, id: Float, add: Float, top: Float) -> I {
        var v = (UnsafeRawPointer(x + k).loadUnaligned(as: V.self) - V(repeating: sub)) * V(repeating: id) + V(repeating: add)
        v = v.rounded(.towardZero)
        v = v.replacing(with: V(repeating: top), where: v .> V(repeating: top)).replacing(with: V(), where: v .< V())
        return ExactIntegers.rounded(v)
    }

    /// 32 four-bit levels packed as ggml does: byte j holds weight j (low nibble) and j + 16.
    @inline(__always) static func packNibbles(_ x: UnsafePointer<Float>, sub: Float, id: Float, add: Float, into p: UnsafeMutableRawPointer) {
        let l0 = truncated(x, 0, sub: sub, id: id, add: add, top: 15), l1 = truncated(x, 8, sub: sub, id: id, add: add, top: 15)
        let l2 = truncated(x, 16, sub: sub, id: id, add: add, top: 15), l3 = truncated(x, 24, sub: sub, id: id, add: add, top: 15)
        storeLowBytes(l0 | (l2 &<< 4), to: p)
        storeLowBytes(l1 | (l3 &<< 4), to: p + 8)
    }

    /// Q8_0's levels roundf(x·id) as 32 signed bytes.
    @inline(__always) static func storeRounded(_ x: UnsafePointer<Float>, id: Float, into p: UnsafeMutableRawPointer) {
        for k in stride(from: 0, to: 32, by: 8) {
            let v = UnsafeRawPointer(x + k).loadUnaligned(as: V.self) * V(repeating: id)
            storeLowBytes(ExactIntegers.rounded(roundHalfAway(v)), to: p + k)
        }
    }

    /// The low byte of each lane, 8 bytes (a byte shuffle; `truncatingIfNeeded` between vector
    /// widths is an out-of-line call).
    @inline(__always) static func storeLowBytes(_ v: I, to p: UnsafeMutableRawPointer) {
        let b = unsafeBitCast(v, to: SIMD32<UInt8>.self)
        let packed = SIMD8<UInt8>(b[0], b[4], b[8], b[12], b[16], b[20], b[24], b[28])
        p.storeBytes(of: packed, as: SIMD8<UInt8>.self)
    }

    /// 32 levels (bytes, each plus `bias` in 0…15) packed as ggml's 4-bit blocks: byte j holds
    /// level j in its low nibble and level j + 16 in its high one. 16 lanes at a time.
    @inline(__always) static func packNibbles(levels q: UnsafeRawPointer, bias: UInt8, into p: UnsafeMutableRawPointer) {
        let b = SIMD16<UInt8>(repeating: bias)
        let lo = q.loadUnaligned(as: SIMD16<UInt8>.self) &+ b, hi = q.loadUnaligned(fromByteOffset: 16, as: SIMD16<UInt8>.self) &+ b
        p.storeBytes(of: lo | (hi &<< 4), as: SIMD16<UInt8>.self)
    }
}
