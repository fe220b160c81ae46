import TensorCore

/// Grouped-query attention with a causal sliding window, as matrix products: query head j
/// reads KV head j / (nh / nkv); position i attends to positions max(0, i − W + 1) … i.
///
/// The work is split into jobs of (query head, block of up to 64 query rows). A job's visible
/// keys are a range of positions; they live in at most three contiguous runs (the cache's
/// slots before and after its wrap-around point, then this chunk's own rows), so each run is
/// one BLAS call on rows with stride n_kv·hd — no gather. Scores S = Q·Kᵀ/√hd, masked softmax
/// per row, then out = P·V. Keys before the chunk come from the cache (read before this chunk
/// is stored), the rest from `k`/`v`.
struct Attention {
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    let pool: WorkerPool
    static let rowBlock = 64

    /// A run of consecutive positions stored contiguously: keys and values at `k`, `v`
    /// (row stride n_kv·hd elements, f16 when `half`), covering score columns
    /// `column ..< column + count`.
    struct Run {
        let k: UnsafeRawPointer
        let v: UnsafeRawPointer
        let half: Bool
        let column: Int
        let count: Int
    }

    func callAsFunction(layer: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        rows t: Int, start p0: Int, cache: RotatingKVCache, out: UnsafeMutablePointer<Float>) {
        let hd = headDim, group = heads / kvHeads
        let qw = heads * hd, kvw = kvHeads * hd
        let scale = 1 / Float(hd).squareRoot()
        let blocks = (t + Self.rowBlock - 1) / Self.rowBlock
        let half = cache.precision == .f16, eb = cache.elementBytes
        cache.keys[layer].withUnsafeBytes { ckb in cache.values[layer].withUnsafeBytes { cvb in
            let ckp = ckb.baseAddress!, cvp = cvb.baseAddress!
            // The runs covering positions lo ..< hi (lo ≥ the oldest position the cache holds).
            func runs(_ lo: Int, _ hi: Int) -> [Run] {
                var out: [Run] = []
                var p = lo
                while p < min(hi, p0) {   // cached positions, split where the slots wrap
                    let s = cache.slot(p)
                    let n = min(min(hi, p0) - p, cache.slots - s)
                    out.append(Run(k: ckp + s * kvw * eb, v: cvp + s * kvw * eb, half: half, column: p - lo, count: n))
                    p += n
                }
                if p < hi { out.append(Run(k: k + (p - p0) * kvw, v: v + (p - p0) * kvw, half: false, column: p - lo, count: hi - p)) }
                return out
            }
            pool.run(heads * blocks) { job, _ in
                let head = job % heads, block = job / heads
                let kvOffset = (head / group) * hd
                let r0 = block * Self.rowBlock, r1 = min(t, r0 + Self.rowBlock), m = r1 - r0
                let lo = cache.firstVisible(p0 + r0), hi = p0 + r1
                let n = hi - lo
                let qp = q + r0 * qw + head * hd, op = out + r0 * qw + head * hd
                let segments = runs(lo, hi)
                withUnsafeTemporaryAllocation(of: Float.self, capacity: m * n) { sb in
                    let s = sb.baseAddress!
                    for run in segments {   // S[m, n] = Q·Kᵀ · scale
                        if m == 1 {
                            if run.half {
                                Self.scores(qp, run.k, F16Rows.self, offset: kvOffset, stride: kvw, count: run.count, headDim: hd, scale: scale, into: s + run.column)
                            } else {
                                Self.scores(qp, run.k, F32Rows.self, offset: kvOffset, stride: kvw, count: run.count, headDim: hd, scale: scale, into: s + run.column)
                            }
                        } else {
                            Self.withF32(run.k, run, offset: kvOffset, stride: kvw, headDim: hd) { kp, ld in
                                BLAS.sgemm(transposeB: true, m, run.count, hd, alpha: scale, qp, lda: qw, kp, ldb: ld, beta: 0,
                                           s + run.column, ldc: n)
                            }
                        }
                    }
                    for r in 0..<m {   // masked softmax: row r sees positions first … pos
                        let pos = p0 + r0 + r
                        let a = cache.firstVisible(pos) - lo, b = pos - lo + 1
                        let row = s + r * n
                        for c in 0..<a { row[c] = 0 }
                        Ops.softmax(row + a, b - a)
                        for c in b..<n { row[c] = 0 }
                    }
                    for (i, run) in segments.enumerated() {   // out[m, hd] = P·V
                        if m == 1 {
                            if i == 0 { op.update(repeating: 0, count: hd) }
                            if run.half {
                                Self.accumulate(s + run.column, run.v, F16Rows.self, offset: kvOffset, stride: kvw, count: run.count, headDim: hd, into: op)
                            } else {
                                Self.accumulate(s + run.column, run.v, F32Rows.self, offset: kvOffset, stride: kvw, count: run.count, headDim: hd, into: op)
                            }
                        } else {
                            Self.withF32(run.v, run, offset: kvOffset, stride: kvw, headDim: hd) { vp, ld in
                                BLAS.sgemm(transposeB: false, m, hd, run.count, alpha: 1, s + run.column, lda: n, vp, ldb: ld,
                                           beta: i == 0 ? 0 : 1, op, ldc: qw)
                            }
                        }
                    }
                }
            }
        } }
    }

    /// Calls `body` with this head's slice of a run as f32 rows and their stride: in place for
    /// f32 rows, else converted into a temporary [count, hd] buffer for BLAS.
    static func withF32(_ base: UnsafeRawPointer, _ run: Run, offset: Int, stride: Int, headDim hd: Int,
                        _ body: (UnsafePointer<Float>, Int) -> Void) {
        guard run.half else { return body(base.assumingMemoryBound(to: Float.self) + offset, stride) }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: run.count * hd) { t in
            for j in 0..<run.count {
                let row = base + 2 * (j * stride + offset)
                for d in 0..<hd { t[j * hd + d] = Float(row.loadUnaligned(fromByteOffset: 2 * d, as: Float16.self)) }
            }
            body(t.baseAddress!, hd)
        }
    }

    // One query row (decoding): plain SIMD loops over the keys. A BLAS call per head and run
    // costs more in overhead than these few thousand multiply-adds.
    typealias V = SIMD8<Float>

    /// s[j] = scale · q·k_j for `count` keys `stride` elements apart (this head's at `offset`).
    /// Four keys at a time when the head is whole vectors: eight independent FMA chains (two
    /// per key) instead of two, so the loop is bound by throughput, not FMA latency.
    static func scores<R: RowElements>(_ q: UnsafePointer<Float>, _ k: UnsafeRawPointer, _: R.Type, offset: Int, stride: Int, count: Int,
                                       headDim hd: Int, scale: Float, into s: UnsafeMutablePointer<Float>) {
        let vectors = hd / 8, qr = UnsafeRawPointer(q)
        var j0 = 0
        if hd % 16 == 0 {
            let step = R.bytes * stride
            while j0 + 4 <= count {
                let k0 = k + R.bytes * (j0 * stride + offset), k1 = k0 + step, k2 = k1 + step, k3 = k2 + step
                var a0 = V(), b0 = V(), a1 = V(), b1 = V(), a2 = V(), b2 = V(), a3 = V(), b3 = V()
                for i in Swift.stride(from: 0, to: vectors, by: 2) {
                    let qa = qr.loadUnaligned(fromByteOffset: 32 * i, as: V.self), qb = qr.loadUnaligned(fromByteOffset: 32 * i + 32, as: V.self)
                    a0.addProduct(qa, R.load8(k0, 8 * i)); b0.addProduct(qb, R.load8(k0, 8 * i + 8))
                    a1.addProduct(qa, R.load8(k1, 8 * i)); b1.addProduct(qb, R.load8(k1, 8 * i + 8))
                    a2.addProduct(qa, R.load8(k2, 8 * i)); b2.addProduct(qb, R.load8(k2, 8 * i + 8))
                    a3.addProduct(qa, R.load8(k3, 8 * i)); b3.addProduct(qb, R.load8(k3, 8 * i + 8))
                }
                s[j0] = hsum(a0 + b0) * scale
                s[j0 + 1] = hsum(a1 + b1) * scale
                s[j0 + 2] = hsum(a2 + b2) * scale
                s[j0 + 3] = hsum(a3 + b3) * scale
                j0 += 4
            }
        }
        for j in j0..<count {
            let kr = k + R.bytes * (j * stride + offset)
            var a = V(), b = V()
            var i = 0
            while i + 2 <= vectors {
                a.addProduct(qr.loadUnaligned(fromByteOffset: 32 * i, as: V.self), R.load8(kr, 8 * i))
                b.addProduct(qr.loadUnaligned(fromByteOffset: 32 * i + 32, as: V.self), R.load8(kr, 8 * i + 8))
                i += 2
            }
            if i < vectors { a.addProduct(qr.loadUnaligned(fromByteOffset: 32 * i, as: V.self), R.load8(kr, 8 * i)) }
            var dot = hsum(a + b)
            for d in (8 * vectors)..<hd { dot += q[d] * R.load(kr, d) }
            s[j] = dot * scale
        }
    }

    /// out += Σ_j p[j] · v_j for `count` values `stride` elements apart (this head's at `offset`).
    /// For heads of whole 64-element chunks the output chunk stays in eight registers across all
    /// values (it was loaded and stored again for every value).
    static func accumulate<R: RowElements>(_ p: UnsafePointer<Float>, _ v: UnsafeRawPointer, _: R.Type, offset: Int, stride: Int, count: Int,
                                           headDim hd: Int, into out: UnsafeMutablePointer<Float>) {
        let vectors = hd / 8, orw = UnsafeMutableRawPointer(out)
        if hd % 64 == 0 {
            for c in Swift.stride(from: 0, to: hd, by: 64) {
                var o0 = orw.loadUnaligned(fromByteOffset: 4 * c, as: V.self), o1 = orw.loadUnaligned(fromByteOffset: 4 * c + 32, as: V.self)
                var o2 = orw.loadUnaligned(fromByteOffset: 4 * c + 64, as: V.self), o3 = orw.loadUnaligned(fromByteOffset: 4 * c + 96, as: V.self)
                var o4 = orw.loadUnaligned(fromByteOffset: 4 * c + 128, as: V.self), o5 = orw.loadUnaligned(fromByteOffset: 4 * c + 160, as: V.self)
                var o6 = orw.loadUnaligned(fromByteOffset: 4 * c + 192, as: V.self), o7 = orw.loadUnaligned(fromByteOffset: 4 * c + 224, as: V.self)
                for j in 0..<count {
                    let w = V(repeating: p[j]), vr = v + R.bytes * (j * stride + offset + c)
                    o0.addProduct(w, R.load8(vr, 0)); o1.addProduct(w, R.load8(vr, 8))
                    o2.addProduct(w, R.load8(vr, 16)); o3.addProduct(w, R.load8(vr, 24))
                    o4.addProduct(w, R.load8(vr, 32)); o5.addProduct(w, R.load8(vr, 40))
                    o6.addProduct(w, R.load8(vr, 48)); o7.addProduct(w, R.load8(vr, 56))
                }
                orw.storeBytes(of: o0, toByteOffset: 4 * c, as: V.self); orw.storeBytes(of: o1, toByteOffset: 4 * c + 32, as: V.self)
                orw.storeBytes(of: o2, toByteOffset: 4 * c + 64, as: V.self); orw.storeBytes(of: o3, toByteOffset: 4 * c + 96, as: V.self)
                orw.storeBytes(of: o4, toByteOffset: 4 * c + 128, as: V.self); orw.storeBytes(of: o5, toByteOffset: 4 * c + 160, as: V.self)
                orw.storeBytes(of: o6, toByteOffset: 4 * c + 192, as: V.self); orw.storeBytes(of: o7, toByteOffset: 4 * c + 224, as: V.self)
            }
            return
        }
        for j in 0..<count {
            let w = V(repeating: p[j]), vr = v + R.bytes * (j * stride + offset)
            for i in 0..<vectors {
                var o = orw.loadUnaligned(fromByteOffset: 32 * i, as: V.self)
                o.addProduct(w, R.load8(vr, 8 * i))
                orw.storeBytes(of: o, toByteOffset: 32 * i, as: V.self)
            }
            for d in (8 * vectors)..<hd { out[d] += p[j] * R.load(vr, d) }
        }
    }
}

/// Sum of 8 lanes by halves.
@inline(__always) private func hsum(_ v: SIMD8<Float>) -> Float {
    let h = v.lowHalf + v.highHalf
    return h[0] + h[1] + h[2] + h[3]
}

/// How cached rows are read: f32 or f16 elements, eight at a time as f32.
protocol RowElements {
    static var bytes: Int { get }
    static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
    static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float
}

enum F32Rows: RowElements {
    static var bytes: Int { 4 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> { p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float { p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
}

enum F16Rows: RowElements {
    static var bytes: Int { 2 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> { SIMD8<Float>(p.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)) }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float { Float(p.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) }
}
