import Foundation

/// The small numeric operations of the forward pass, on row-major Float buffers.
package enum Ops {
    /// y[T, out] = x[T, in] · W[out, in]ᵀ (PyTorch Linear layout), through OpenBLAS; y's rows
    /// are `outputStride` apart (default: `output`), so a panel of W fills a band of columns.
    static func linear(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows t: Int,
                       input: Int, output: Int, outputStride: Int? = nil) {
        BLAS.sgemm(transposeB: true, t, output, input, alpha: 1, x, lda: input, w, ldb: input, beta: 0, y, ldc: outputStride ?? output)
    }

    /// y = x / sqrt(mean(x²) + eps) · g, row by row; 8 lanes at a time (four partial sums:
    /// a single running sum is one add per element in sequence).
    package static func rmsNorm(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows t: Int, dim: Int, eps: Float) {
        typealias V = SIMD8<Float>
        let gr = UnsafeRawPointer(g)
        for r in 0..<t {
            let xr = UnsafeRawPointer(x + r * dim), yr = UnsafeMutableRawPointer(y + r * dim)
            var s0 = V(), s1 = V(), s2 = V(), s3 = V()
            var i = 0
            while i + 32 <= dim {
                let a = xr.loadUnaligned(fromByteOffset: 4 * i, as: V.self), b = xr.loadUnaligned(fromByteOffset: 4 * i + 32, as: V.self)
                let c = xr.loadUnaligned(fromByteOffset: 4 * i + 64, as: V.self), d = xr.loadUnaligned(fromByteOffset: 4 * i + 96, as: V.self)
                s0.addProduct(a, a); s1.addProduct(b, b); s2.addProduct(c, c); s3.addProduct(d, d)
                i += 32
            }
            while i + 8 <= dim { let a = xr.loadUnaligned(fromByteOffset: 4 * i, as: V.self); s0.addProduct(a, a); i += 8 }
            var ss = ((s0 + s1) + (s2 + s3)).sum()
            while i < dim { let v = x[r * dim + i]; ss += v * v; i += 1 }
            let scale = 1 / (ss / Float(dim) + eps).squareRoot()
            let sv = V(repeating: scale)
            i = 0
            while i + 8 <= dim {
                let v = xr.loadUnaligned(fromByteOffset: 4 * i, as: V.self) * sv * gr.loadUnaligned(fromByteOffset: 4 * i, as: V.self)
                yr.storeBytes(of: v, toByteOffset: 4 * i, as: V.self)
                i += 8
            }
            while i < dim { y[r * dim + i] = x[r * dim + i] * scale * g[i]; i += 1 }
        }
    }

    /// cos and sin of position · θ^(−2i/d) for `rows` positions from `p0`, [rows, d/2] each:
    /// the same for q and k and for every layer, so computed once per forward pass.
    package static func ropeTables(rows t: Int, startPosition p0: Int, invFreq: [Float]) -> (cos: [Float], sin: [Float]) {
        let half = invFreq.count
        var c = [Float](repeating: 0, count: t * half), s = c
        for r in 0..<t {
            let pos = Float(p0 + r)
            for i in 0..<half {
                let angle = pos * invFreq[i]   // in Float, as transformers computes it
                c[r * half + i] = cos(angle)
                s[r * half + i] = sin(angle)
            }
        }
        return (c, s)
    }

    /// Rotary embedding on interleaved pairs (Mistral's native layout): for each head, pair
    /// (2i, 2i+1) of row r turns by the angle whose cos and sin are `tables`[r, i].
    package static func rope(_ v: UnsafeMutablePointer<Float>, rows t: Int, heads: Int, headDim hd: Int, tables: (cos: [Float], sin: [Float])) {
        let width = heads * hd, half = hd / 2
        for r in 0..<t {
            for i in 0..<half {
                let c = tables.cos[r * half + i], s = tables.sin[r * half + i]
                for h in 0..<heads {
                    let p = v + r * width + h * hd + 2 * i
                    let a = p[0], b = p[1]
                    p[0] = a * c - b * s
                    p[1] = a * s + b * c
                }
            }
        }
    }

    /// x += y over `n` values, 8 lanes at a time (the residual connections).
    package static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        let xr = UnsafeMutableRawPointer(x), yr = UnsafeRawPointer(y)
        var i = 0
        while i + 8 <= n {
            xr.storeBytes(of: xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) + yr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self),
                          toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { x[i] += y[i]; i += 1 }
    }

    /// θ^(−2i/d) for i < d/2, as transformers computes `inv_freq` (in Float).
    package static func ropeFrequencies(headDim hd: Int, theta: Double) -> [Float] {
        (0..<(hd / 2)).map { i in 1 / Float(pow(Float(theta), Float(2 * i) / Float(hd))) }
    }

    @inline(__always) package static func silu(_ x: Float) -> Float { x / (1 + exp(-x)) }

    /// In-place softmax of `n` values; returns nothing, leaves probabilities. 8 lanes at a time
    /// with `VectorExp` (the tail through the same function, padded).
    package static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
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
}
