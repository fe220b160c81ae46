import COpenBLAS
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
    /// (row stride n_kv·hd), covering score columns `column ..< column + count`.
    struct Run {
        let k: UnsafePointer<Float>
        let v: UnsafePointer<Float>
        let column: Int
        let count: Int
    }

    func callAsFunction(layer: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        rows t: Int, start p0: Int, cache: RotatingKVCache, out: UnsafeMutablePointer<Float>) {
        let hd = headDim, group = heads / kvHeads
        let qw = heads * hd, kvw = kvHeads * hd
        let scale = 1 / Float(hd).squareRoot()
        let blocks = (t + Self.rowBlock - 1) / Self.rowBlock
        cache.keys[layer].withUnsafeBufferPointer { ckb in cache.values[layer].withUnsafeBufferPointer { cvb in
            let ckp = ckb.baseAddress!, cvp = cvb.baseAddress!
            // The runs covering positions lo ..< hi (lo ≥ the oldest position the cache holds).
            func runs(_ lo: Int, _ hi: Int) -> [Run] {
                var out: [Run] = []
                var p = lo
                while p < min(hi, p0) {   // cached positions, split where the slots wrap
                    let s = cache.slot(p)
                    let n = min(min(hi, p0) - p, cache.slots - s)
                    out.append(Run(k: ckp + s * kvw, v: cvp + s * kvw, column: p - lo, count: n))
                    p += n
                }
                if p < hi { out.append(Run(k: k + (p - p0) * kvw, v: v + (p - p0) * kvw, column: p - lo, count: hi - p)) }
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
                            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(run.count), Int32(hd), scale,
                                        run.k + kvOffset, Int32(kvw), qp, 1, 0, s + run.column, 1)
                        } else {
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(run.count), Int32(hd), scale,
                                        qp, Int32(qw), run.k + kvOffset, Int32(kvw), 0, s + run.column, Int32(n))
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
                            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(run.count), Int32(hd), 1,
                                        run.v + kvOffset, Int32(kvw), s + run.column, 1, i == 0 ? 0 : 1, op, 1)
                        } else {
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(hd), Int32(run.count), 1,
                                        s + run.column, Int32(n), run.v + kvOffset, Int32(kvw), i == 0 ? 0 : 1, op, Int32(qw))
                        }
                    }
                }
            }
        } }
    }
}
