/// The extremes every block quantizer starts from, in one place.
enum BlockExtremes {
    /// The first value of largest magnitude, with its sign (ggml's `max` in the Q4_0/Q5_0
    /// reference quantizers), and that magnitude.
    @inline(__always)
    static func signedMax(_ x: UnsafePointer<Float>, _ n: Int) -> (amax: Float, vmax: Float) {
        var amax: Float = 0, vmax: Float = 0
        for j in 0..<n where amax < abs(x[j]) { amax = abs(x[j]); vmax = x[j] }
        return (amax, vmax)
    }

    /// Smallest and largest value (from ±FLT_MAX, as ggml's Q4_1/Q5_1 reference quantizers).
    @inline(__always)
    static func range(_ x: UnsafePointer<Float>, _ n: Int) -> (lo: Float, hi: Float) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for j in 0..<n { lo = min(lo, x[j]); hi = max(hi, x[j]) }
        return (lo, hi)
    }
}
