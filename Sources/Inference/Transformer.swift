import Checkpoints
import Foundation
import TensorCore

/// The forward pass, readable top to bottom (after llama2.c's `run.c`):
/// embedding → N × [RMSNorm → GQA attention (RoPE, sliding window) → residual →
/// RMSNorm → SwiGLU FFN → residual] → RMSNorm → output. Activations are f32. Weights stay in
/// their stored format: a chunk of T > 1 tokens dequantizes each matrix into a scratch buffer
/// and multiplies through OpenBLAS; a single token (decoding) multiplies each stored row
/// directly (`RowDot`). Shapes are noted as [rows, columns].
public final class Transformer {
    public let weights: ModelWeights
    public var config: ModelConfig { weights.config }
    let invFreq: [Float]
    public let threads: Int
    /// Dequantized weights for the batched path, grown on first use.
    var scratch: [Float] = []
    /// Sees the input of every linear layer: (weight name, rows [T, columns]). Used to build
    /// importance matrices; nil in normal runs.
    public var observer: ((String, UnsafeBufferPointer<Float>, Int) -> Void)?

    public init(weights: ModelWeights, threads: Int = availableCores) {
        self.weights = weights
        self.threads = threads
        invFreq = Ops.ropeFrequencies(headDim: weights.config.headDim, theta: weights.config.ropeTheta)
        Ops.setBLASThreads(threads)
    }

    /// A cache for this model: `capacity` positions (the window bounds it when there is one).
    public func makeCache(capacity: Int = 4096) -> RotatingKVCache {
        RotatingKVCache(layers: config.nLayers, kvWidth: config.nKVHeads * config.headDim,
                        window: config.slidingWindow, capacity: max(capacity, 1))
    }

    /// Runs `tokens` at positions `cache.length …` and returns logits [T, vocab], row-major
    /// (only the last row, [1, vocab], with `lastOnly`: all that prompt processing needs).
    /// Call it with the whole sequence, chunk by chunk, or token by token: the results agree.
    public func forward(_ tokens: [Int], cache: RotatingKVCache, lastOnly: Bool = false) throws -> [Float] {
        let c = config
        let t = tokens.count
        let p0 = cache.length
        guard t > 0 else { return [] }
        try cache.reserve(upTo: p0 + t)
        for id in tokens where id < 0 || id >= c.vocabSize { throw InferenceError.tokenOutOfRange(id: id, vocabulary: c.vocabSize) }
        let dim = c.dim, hd = c.headDim, nh = c.nHeads, nkv = c.nKVHeads
        let qw = nh * hd, kvw = nkv * hd, eps = Float(c.normEps)

        var x = [Float](repeating: 0, count: t * dim)          // [T, dim] residual stream
        var h = [Float](repeating: 0, count: t * dim)          // [T, dim] normed
        var q = [Float](repeating: 0, count: t * qw)           // [T, nh·hd]
        var k = [Float](repeating: 0, count: t * kvw)          // [T, nkv·hd]
        var v = [Float](repeating: 0, count: t * kvw)          // [T, nkv·hd]
        var att = [Float](repeating: 0, count: t * qw)         // [T, nh·hd] attention output
        var o = [Float](repeating: 0, count: t * dim)          // [T, dim]
        var a = [Float](repeating: 0, count: t * c.hiddenDim)  // [T, hidden]
        var b = [Float](repeating: 0, count: t * c.hiddenDim)  // [T, hidden]

        x.withUnsafeMutableBufferPointer { xb in
            for (r, id) in tokens.enumerated() { weights.embeddings.dequantize(rows: id..<(id + 1), into: xb.baseAddress! + r * dim) }
        }
        for (l, w) in weights.layers.enumerated() {
            // Attention block.
            Ops.rmsNorm(x, w.attentionNorm, &h, rows: t, dim: dim, eps: eps)
            observe(["attention.wq", "attention.wk", "attention.wv"], layer: l, h, columns: dim)
            if t == 1 {
                q.withUnsafeMutableBufferPointer { qb in k.withUnsafeMutableBufferPointer { kb in v.withUnsafeMutableBufferPointer { vb in
                    matvec(h, [(w.wq, qb.baseAddress!), (w.wk, kb.baseAddress!), (w.wv, vb.baseAddress!)])
                } } }
            } else {
                linear(h, w.wq, &q, rows: t)
                linear(h, w.wk, &k, rows: t)
                linear(h, w.wv, &v, rows: t)
            }
            q.withUnsafeMutableBufferPointer { Ops.rope($0.baseAddress!, rows: t, heads: nh, headDim: hd, startPosition: p0, invFreq: invFreq) }
            k.withUnsafeMutableBufferPointer { Ops.rope($0.baseAddress!, rows: t, heads: nkv, headDim: hd, startPosition: p0, invFreq: invFreq) }
            attention(layer: l, q: q, k: k, v: v, rows: t, start: p0, cache: cache, out: &att)
            cache.store(layer: l, start: p0, rows: t, k: k, v: v)
            observe(["attention.wo"], layer: l, att, columns: qw)
            linear(att, w.wo, &o, rows: t)
            for i in 0..<(t * dim) { x[i] += o[i] }
            // Feed-forward block: w2(silu(w1·h) ⊙ w3·h).
            Ops.rmsNorm(x, w.ffnNorm, &h, rows: t, dim: dim, eps: eps)
            observe(["feed_forward.w1", "feed_forward.w3"], layer: l, h, columns: dim)
            if t == 1 {
                a.withUnsafeMutableBufferPointer { ab in b.withUnsafeMutableBufferPointer { bb in
                    matvec(h, [(w.w1, ab.baseAddress!), (w.w3, bb.baseAddress!)])
                } }
            } else {
                linear(h, w.w1, &a, rows: t)
                linear(h, w.w3, &b, rows: t)
            }
            for i in 0..<(t * c.hiddenDim) { a[i] = Ops.silu(a[i]) * b[i] }
            observe(["feed_forward.w2"], layer: l, a, columns: c.hiddenDim)
            linear(a, w.w2, &o, rows: t)
            for i in 0..<(t * dim) { x[i] += o[i] }
        }
        cache.advance(to: p0 + t)
        Ops.rmsNorm(x, weights.norm, &h, rows: t, dim: dim, eps: eps)
        if let observer { h.withUnsafeBufferPointer { observer("output.weight", $0, dim) } }
        let rows = lastOnly ? 1 : t
        var logits = [Float](repeating: 0, count: rows * c.vocabSize)   // [T or 1, vocab]
        linear(lastOnly ? Array(h[((t - 1) * dim)...]) : h, weights.output, &logits, rows: rows)
        return logits
    }

    /// y[T, out] = x[T, in] · Wᵀ. One row: each stored weight row dotted with x, rows split
    /// across threads. Several rows: W dequantized into the scratch buffer, then one sgemm.
    func linear(_ x: [Float], _ w: WeightMatrix, _ y: inout [Float], rows t: Int) {
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let xp = xb.baseAddress!, yp = yb.baseAddress!
                if t == 1 {
                    let per = (w.rows + threads * 4 - 1) / (threads * 4)
                    try? parallelFor((w.rows + per - 1) / per, threads: threads) { job, _ in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: w.columns) { tmp in
                            w.matvec(xp, into: yp, rows: (job * per)..<min(w.rows, (job + 1) * per), scratch: tmp.baseAddress!)
                        }
                    }
                    return
                }
                let n = w.rows * w.columns
                if scratch.count < n { scratch = [Float](repeating: 0, count: n) }
                scratch.withUnsafeMutableBufferPointer { sb in
                    let sp = sb.baseAddress!
                    let per = max(1, (1 << 16) / max(1, w.columns))
                    try? parallelFor((w.rows + per - 1) / per, threads: threads) { job, _ in
                        let r = (job * per)..<min(w.rows, (job + 1) * per)
                        w.dequantize(rows: r, into: sp + r.lowerBound * w.columns)
                    }
                    Ops.linear(xp, sp, yp, rows: t, input: w.columns, output: w.rows)
                }
            }
        }
    }

    /// Several matrix-vector products over the same input in one parallel region (one
    /// dispatch instead of one per matrix: decoding calls these hundreds of times per token).
    /// The output pointers must stay valid for the call (the caller holds the arrays' buffers).
    func matvec(_ x: [Float], _ outputs: [(WeightMatrix, UnsafeMutablePointer<Float>)]) {
        x.withUnsafeBufferPointer { xb in
            let xp = xb.baseAddress!
            let ys = outputs.map(\.1)
            let total = outputs.reduce(0) { $0 + $1.0.rows }
            let per = max(64, (total + threads * 4 - 1) / (threads * 4))
            try? parallelFor((total + per - 1) / per, threads: threads) { job, _ in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: outputs.map(\.0.columns).max() ?? 1) { tmp in
                    var lo = job * per
                    let hi = min(total, lo + per)
                    var base = 0
                    for (i, (w, _)) in outputs.enumerated() {
                        let r0 = max(lo, base), r1 = min(hi, base + w.rows)
                        if r0 < r1 { w.matvec(xp, into: ys[i], rows: (r0 - base)..<(r1 - base), scratch: tmp.baseAddress!) }
                        base += w.rows
                        if base >= hi { break }
                    }
                    lo = hi
                }
            }
        }
    }

    func observe(_ names: [String], layer: Int, _ x: [Float], columns: Int) {
        guard let observer else { return }
        x.withUnsafeBufferPointer { b in for n in names { observer("layers.\(layer).\(n).weight", b, columns) } }
    }

    /// Grouped-query attention with a causal sliding window: query head j reads KV head
    /// j / (nh / nkv); position i attends to positions max(0, i − W + 1) … i. Keys before the
    /// chunk come from the cache (read before this chunk is stored), the rest from `k`/`v`.
    func attention(layer: Int, q: [Float], k: [Float], v: [Float], rows t: Int, start p0: Int,
                   cache: RotatingKVCache, out: inout [Float]) {
        let c = config
        let hd = c.headDim, nh = c.nHeads, nkv = c.nKVHeads, group = nh / nkv
        let qw = nh * hd, kvw = nkv * hd
        let scale = 1 / Float(hd).squareRoot()
        let ck = cache.keys[layer], cv = cache.values[layer]
        q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
        ck.withUnsafeBufferPointer { ckb in cv.withUnsafeBufferPointer { cvb in
        out.withUnsafeMutableBufferPointer { ob in
            let qp = qb.baseAddress!, kp = kb.baseAddress!, vp = vb.baseAddress!
            let ckp = ckb.baseAddress!, cvp = cvb.baseAddress!, op = ob.baseAddress!
            try? parallelFor(t * nh, threads: threads) { job, _ in
                let r = job / nh, head = job % nh, kvHead = head / group
                let pos = p0 + r
                let first = cache.firstVisible(pos)
                let n = pos - first + 1
                var scores = [Float](repeating: 0, count: n)
                let qv = qp + r * qw + head * hd
                func keyRow(_ j: Int) -> UnsafePointer<Float> {
                    j < p0 ? ckp + cache.slot(j) * kvw + kvHead * hd : kp + (j - p0) * kvw + kvHead * hd
                }
                func valueRow(_ j: Int) -> UnsafePointer<Float> {
                    j < p0 ? cvp + cache.slot(j) * kvw + kvHead * hd : vp + (j - p0) * kvw + kvHead * hd
                }
                for j in first...pos {
                    let kr = keyRow(j)
                    var s: Float = 0
                    for d in 0..<hd { s += qv[d] * kr[d] }
                    scores[j - first] = s * scale
                }
                scores.withUnsafeMutableBufferPointer { Ops.softmax($0.baseAddress!, n) }
                let dst = op + r * qw + head * hd
                for d in 0..<hd { dst[d] = 0 }
                for j in first...pos {
                    let p = scores[j - first], vr = valueRow(j)
                    for d in 0..<hd { dst[d] += p * vr[d] }
                }
            }
        } } } } } }
    }
}
