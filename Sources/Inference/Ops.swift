import COpenBLAS
import Foundation

/// The small numeric operations of the forward pass, on row-major Float buffers.
public enum Ops {
    /// y[T, out] = x[T, in] · W[out, in]ᵀ (PyTorch Linear layout), through OpenBLAS; y's rows
    /// are `outputStride` apart (default: `output`), so a panel of W fills a band of columns.
    public static func linear(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows t: Int,
                              input: Int, output: Int, outputStride: Int? = nil) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(output), Int32(input), 1, x, Int32(input), w, Int32(input),
                    0, y, Int32(outputStride ?? output))
    }

    /// y = x / sqrt(mean(x²) + eps) · g, row by row.
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows t: Int, dim: Int, eps: Float) {
        for r in 0..<t {
            let xr = x + r * dim, yr = y + r * dim
            var ss: Float = 0
            for i in 0..<dim { ss += xr[i] * xr[i] }
            let scale = 1 / (ss / Float(dim) + eps).squareRoot()
            for i in 0..<dim { yr[i] = xr[i] * scale * g[i] }
        }
    }

    /// Rotary embedding on interleaved pairs (Mistral's native layout): for each head, pair
    /// (2i, 2i+1) turns by position · θ^(−2i/d). Angles in Float as transformers computes them.
    public static func rope(_ v: UnsafeMutablePointer<Float>, rows t: Int, heads: Int, headDim hd: Int, startPosition p0: Int, invFreq: [Float]) {
        let width = heads * hd
        for r in 0..<t {
            let pos = Float(p0 + r)
            for i in 0..<(hd / 2) {
                let angle = pos * invFreq[i]
                let c = cos(angle), s = sin(angle)
                for h in 0..<heads {
                    let p = v + r * width + h * hd + 2 * i
                    let a = p[0], b = p[1]
                    p[0] = a * c - b * s
                    p[1] = a * s + b * c
                }
            }
        }
    }

    /// θ^(−2i/d) for i < d/2, as transformers computes `inv_freq` (in Float).
    public static func ropeFrequencies(headDim hd: Int, theta: Double) -> [Float] {
        (0..<(hd / 2)).map { i in 1 / Float(pow(Float(theta), Float(2 * i) / Float(hd))) }
    }

    @inline(__always) public static func silu(_ x: Float) -> Float { x / (1 + exp(-x)) }

    /// In-place softmax of `n` values; returns nothing, leaves probabilities. 8 lanes at a time
    /// with `VectorExp` (the tail through the same function, padded).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        typealias V = SIMD8<Float>
        let raw = UnsafeMutableRawPointer(x)
        var mv = V(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: V.self)
            mv = mv.replacing(with: v, where: v .> mv)
            i += 8
        }
        var m = -Float.infinity
        for k in 0..<8 { m = max(m, mv[k]) }
        for k in i..<n { m = max(m, x[k]) }
        let mb = V(repeating: m)
        var sv = V()
        i = 0
        while i + 8 <= n {
            let e = VectorExp.exp(raw.loadUnaligned(fromByteOffset: 4 * i, as: V.self) - mb)
            raw.storeBytes(of: e, toByteOffset: 4 * i, as: V.self)
            sv += e
            i += 8
        }
        var s = sv.sum()
        if i < n {
            var t = V(repeating: -.infinity)
            for k in i..<n { t[k - i] = x[k] - m }
            let e = VectorExp.exp(t)
            for k in i..<n { x[k] = e[k - i]; s += e[k - i] }
        }
        let inv = V(repeating: 1 / s)
        i = 0
        while i + 8 <= n {
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: 4 * i, as: V.self) * inv, toByteOffset: 4 * i, as: V.self)
            i += 8
        }
        for k in i..<n { x[k] *= inv[0] }
    }

    /// Sets OpenBLAS's thread count.
    public static func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
}
