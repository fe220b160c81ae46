/// The extremes every block quantizer starts from, in one place: 8 lanes at a time for blocks
/// of whole vectors (every block here), with the plain scalar loops beside them that they must
/// equal (`BlockExtremesTests`).
enum BlockExtremes {
    typealias V = SIMD8<Float>

    /// The first value of largest magnitude, with its sign (ggml's `max` in the Q4_0/Q5_0
    /// reference quantizers), and that magnitude. All zeros give (0, +0).
    @inline(__always)
    static func signedMax(_ x: UnsafePointer<Float>, _ n: Int) -> (amax: Float, vmax: Float) {
        guard n % 8 == 0, n > 0 else { return signedMaxScalar(x, n) }
        let (lo, hi) = laneBounds(x, n)
        let top = max(hi), bottom = -min(lo)
        if top > bottom { return (top, top) }
        if bottom > top { return (bottom, -bottom) }
        // +a and −a both present (or all zeros): the first one wins, as in the scalar loop.
        return signedMaxScalar(x, n)
    }

    /// Smallest and largest value (from ±FLT_MAX, as ggml's Q4_1/Q5_1 reference quantizers).
    @inline(__always)
    static func range(_ x: UnsafePointer<Float>, _ n: Int) -> (lo: Float, hi: Float) {
        guard n % 8 == 0, n > 0 else { return rangeScalar(x, n) }
        let (lo, hi) = laneBounds(x, n)
        return (min(lo), max(hi))
    }

    /// Lane-wise minimum and maximum over `n` (a multiple of 8) values.
    @inline(__always)
    static func laneBounds(_ x: UnsafePointer<Float>, _ n: Int) -> (lo: V, hi: V) {
        var hi = load(x, 0), lo = hi
        for k in stride(from: 8, to: n, by: 8) {
            let v = load(x, k)
            hi = hi.replacing(with: v, where: v .> hi)
            lo = lo.replacing(with: v, where: v .< lo)
        }
        return (lo, hi)
    }

    /// Largest magnitude.
    @inline(__always)
    static func absMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        guard n % 8 == 0, n > 0 else { return (0..<n).reduce(0) { Swift.max($0, abs(x[$1])) } }
        let mask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        var m = V()
        for k in stride(from: 0, to: n, by: 8) {
            let a = unsafeBitCast(unsafeBitCast(load(x, k), to: SIMD8<UInt32>.self) & mask, to: V.self)
            m = m.replacing(with: a, where: a .> m)
        }
        return max(m)
    }

    static func signedMaxScalar(_ x: UnsafePointer<Float>, _ n: Int) -> (amax: Float, vmax: Float) {
        var amax: Float = 0, vmax: Float = 0
        for j in 0..<n where amax < abs(x[j]) { amax = abs(x[j]); vmax = x[j] }
        return (amax, vmax)
    }

    static func rangeScalar(_ x: UnsafePointer<Float>, _ n: Int) -> (lo: Float, hi: Float) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for j in 0..<n { lo = Swift.min(lo, x[j]); hi = Swift.max(hi, x[j]) }
        return (lo, hi)
    }

    @inline(__always) static func load(_ x: UnsafePointer<Float>, _ k: Int) -> V {
        UnsafeRawPointer(x + k).loadUnaligned(as: V.self)
    }

    /// Horizontal max/min by halves (the stdlib's `max()` on a vector is a lane-by-lane loop).
    @inline(__always) static func max(_ v: V) -> Float {
        let h = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
        let q = h.lowHalf.replacing(with: h.highHalf, where: h.highHalf .> h.lowHalf)
        return Swift.max(q[0], q[1])
    }

    @inline(__always) static func min(_ v: V) -> Float {
        let h = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .< v.lowHalf)
        let q = h.lowHalf.replacing(with: h.highHalf, where: h.highHalf .< h.lowHalf)
        return Swift.min(q[0], q[1])
    }
}
