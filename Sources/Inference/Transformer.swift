import Checkpoints
import Foundation
import Quantization
import TensorCore

/// The forward pass, readable top to bottom (after llama2.c's `run.c`):
/// embedding → N × [RMSNorm → GQA attention (RoPE, sliding window) → residual →
/// RMSNorm → SwiGLU FFN → residual] → RMSNorm → output. Activations are f32. Weights stay in
/// their stored format: a chunk of T > 1 tokens dequantizes each matrix panel by panel into a
/// per-worker scratch buffer and multiplies through OpenBLAS, except Q4_0, multiplied in
/// integers against the tokens quantized to Q8 (`PackedQ4_0.multiply`); a single token
/// (decoding) multiplies each stored row directly (`RowDot`; `Q8Dot`/`PackedQ4_0` against the
/// activation quantized to Q8 for the block formats). Shapes are noted as [rows, columns].
public final class Transformer {
    package let weights: ModelWeights
    package var config: ModelConfig { weights.config }
    let invFreq: [Float]
    package let threads: Int
    /// Dequantized weight panels for the batched path, one per worker, grown on first use.
    var scratch: [Float] = []
    let attention: Attention
    /// Decoding quantizes each activation row to Q8 for weights with an integer kernel
    /// (`Q8Dot.supports`), as llama.cpp does; false keeps f32 activations everywhere (exact, slower).
    package var quantizedActivations = true
    /// Runs the parallel regions (several per layer per token).
    let pool: WorkerPool
    /// Sees the input of every linear layer: (weight name, rows [T, columns]). Used to build
    /// importance matrices; nil in normal runs.
    package var observer: ((String, UnsafeBufferPointer<Float>, Int) -> Void)?

    /// Throws if OpenBLAS (for the batched f32 products) cannot be loaded.
    package init(weights: ModelWeights, threads: Int = availableCores) throws {
        try BLAS.require()
        self.weights = weights
        self.threads = threads
        pool = WorkerPool(threads: threads)
        invFreq = Ops.ropeFrequencies(headDim: weights.config.headDim, theta: weights.config.ropeTheta)
        attention = Attention(heads: weights.config.nHeads, kvHeads: weights.config.nKVHeads,
                              headDim: weights.config.headDim, pool: pool)
    }

    deinit { pool.shutdown() }

    /// A cache for this model: `capacity` positions (the window bounds it when there is one),
    /// rows kept in `precision`.
    package func makeCache(capacity: Int = 4096, precision: KVPrecision = .f32) -> RotatingKVCache {
        RotatingKVCache(layers: config.nLayers, kvWidth: config.nKVHeads * config.headDim,
                        window: config.slidingWindow, capacity: max(capacity, 1), precision: precision)
    }

    /// Runs `tokens` at positions `cache.length …` and returns logits [T, vocab], row-major
    /// (only the last row, [1, vocab], with `lastOnly`: all that prompt processing needs).
    /// Call it with the whole sequence, chunk by chunk, or token by token: the results agree.
    package func forward(_ tokens: [Int], cache: RotatingKVCache, lastOnly: Bool = false) throws -> [Float] {
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
        let rotary = Ops.ropeTables(rows: t, startPosition: p0, invFreq: invFreq)
        for (l, w) in weights.layers.enumerated() {
            // Attention block.
            Ops.rmsNorm(x, w.attentionNorm, &h, rows: t, dim: dim, eps: eps)
            observe(["attention.wq", "attention.wk", "attention.wv"], layer: l, h, columns: dim)
            q.withUnsafeMutableBufferPointer { qb in k.withUnsafeMutableBufferPointer { kb in v.withUnsafeMutableBufferPointer { vb in
                linear(h, [(w.wq, qb.baseAddress!), (w.wk, kb.baseAddress!), (w.wv, vb.baseAddress!)], rows: t)
            } } }
            q.withUnsafeMutableBufferPointer { Ops.rope($0.baseAddress!, rows: t, heads: nh, headDim: hd, tables: rotary) }
            k.withUnsafeMutableBufferPointer { Ops.rope($0.baseAddress!, rows: t, heads: nkv, headDim: hd, tables: rotary) }
            q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
                att.withUnsafeMutableBufferPointer { ab in
                    attention(layer: l, q: qb.baseAddress!, k: kb.baseAddress!, v: vb.baseAddress!, rows: t, start: p0,
                              cache: cache, out: ab.baseAddress!)
                }
            } } }
            cache.store(layer: l, start: p0, rows: t, k: k, v: v)
            observe(["attention.wo"], layer: l, att, columns: qw)
            linear(att, w.wo, &o, rows: t)
            x.withUnsafeMutableBufferPointer { xb in o.withUnsafeBufferPointer { Ops.add(xb.baseAddress!, $0.baseAddress!, count: t * dim) } }
            // Feed-forward block: w2(silu(w1·h) ⊙ w3·h), or a mixture of such experts.
            Ops.rmsNorm(x, w.ffnNorm, &h, rows: t, dim: dim, eps: eps)
            switch w.feedForward {
            case .dense(let e):
                expert(h, e, rows: t, layer: l, name: "feed_forward", a: &a, b: &b, out: &o)
            case .mixture(let gate, let experts, let k):
                mixture(h, gate: gate, experts: experts, perToken: k, rows: t, layer: l, out: &o)
            }
            x.withUnsafeMutableBufferPointer { xb in o.withUnsafeBufferPointer { Ops.add(xb.baseAddress!, $0.baseAddress!, count: t * dim) } }
        }
        cache.advance(to: p0 + t)
        Ops.rmsNorm(x, weights.norm, &h, rows: t, dim: dim, eps: eps)
        if let observer { h.withUnsafeBufferPointer { observer("output.weight", $0, dim) } }
        let rows = lastOnly ? 1 : t
        var logits = [Float](repeating: 0, count: rows * c.vocabSize)   // [T or 1, vocab]
        linear(lastOnly ? Array(h[((t - 1) * dim)...]) : h, weights.output, &logits, rows: rows)
        return logits
    }

    /// out[T, dim] = w2(silu(w1·h) ⊙ w3·h) for `rows` rows of h; `a` and `b` hold at least
    /// rows × hidden floats. `name` prefixes the weights' names for the imatrix observer.
    func expert(_ h: [Float], _ e: ModelWeights.Expert, rows t: Int, layer l: Int, name: String,
                a: inout [Float], b: inout [Float], out o: inout [Float]) {
        observe(["\(name).w1", "\(name).w3"], layer: l, h, columns: config.dim)
        a.withUnsafeMutableBufferPointer { ab in b.withUnsafeMutableBufferPointer { bb in
            linear(h, [(e.w1, ab.baseAddress!), (e.w3, bb.baseAddress!)], rows: t)
        } }
        swiGLU(&a, b, count: t * config.hiddenDim)
        observe(["\(name).w2"], layer: l, a, columns: config.hiddenDim)
        linear(a, e.w2, &o, rows: t)
    }

    /// Mixtral's sparse block: router logits h·gateᵀ, the `perToken` largest per token (ties to
    /// the lower expert), weights = softmax over the chosen logits (= the full softmax
    /// renormalised over them, as transformers and mistral-inference compute it); each expert
    /// runs once on the rows routed to it and its output is added, weighted, to those rows.
    func mixture(_ h: [Float], gate: WeightMatrix, experts: [ModelWeights.Expert], perToken k: Int, rows t: Int, layer l: Int,
                 out o: inout [Float]) {
        let n = experts.count, dim = config.dim, hidden = config.hiddenDim
        var logits = [Float](repeating: 0, count: t * n)
        observe(["feed_forward.gate"], layer: l, h, columns: dim)
        linear(h, gate, &logits, rows: t)
        var routed = [[(row: Int, weight: Float)]](repeating: [], count: n)
        for r in 0..<t {
            let z = logits[(r * n)..<((r + 1) * n)]
            let chosen = (0..<n).sorted { z[r * n + $0] > z[r * n + $1] || (z[r * n + $0] == z[r * n + $1] && $0 < $1) }.prefix(k)
            guard let first = chosen.first else { continue }   // k ≥ 1 (ModelWeights checks it)
            let top = z[r * n + first]
            let e = chosen.map { Foundation.exp(z[r * n + $0] - top) }
            let sum = e.reduce(0, +)
            for (i, x) in chosen.enumerated() { routed[x].append((r, e[i] / sum)) }
        }
        for i in 0..<(t * dim) { o[i] = 0 }
        for (x, rows) in routed.enumerated() where !rows.isEmpty {
            let m = rows.count
            var he = [Float](repeating: 0, count: m * dim)
            for (i, (r, _)) in rows.enumerated() { for d in 0..<dim { he[i * dim + d] = h[r * dim + d] } }
            var ae = [Float](repeating: 0, count: m * hidden), be = ae, oe = [Float](repeating: 0, count: m * dim)
            expert(he, experts[x], rows: m, layer: l, name: "feed_forward.experts.\(x)", a: &ae, b: &be, out: &oe)
            for (i, (r, wt)) in rows.enumerated() { for d in 0..<dim { o[r * dim + d] += wt * oe[i * dim + d] } }
        }
    }

    /// y[T, out] = x[T, in] · Wᵀ. One row: each stored weight row dotted with x, rows split
    /// across threads. Several rows: Q4_0 in integers (`tokenGEMM`), other formats dequantized
    /// panel by panel, one sgemm per panel.
    func linear(_ x: [Float], _ w: WeightMatrix, _ y: inout [Float], rows t: Int) {
        y.withUnsafeMutableBufferPointer { yb in linear(x, [(w, yb.baseAddress!)], rows: t) }
    }

    /// Several matrices over the same input in one parallel region (wq/wk/wv, w1/w3): panels are
    /// sized from the matrices' total rows, so there are fewer sgemm calls, each of which repacks
    /// the input. Output pointers must stay valid for the call.
    func linear(_ x: [Float], _ outputs: [(WeightMatrix, UnsafeMutablePointer<Float>)], rows t: Int) {
        if t == 1 {
            matvec(x, outputs)
            return
        }
        guard let columns = outputs.first?.0.columns else { return }
        if quantizedActivations, Q8Tokens.accepts(columns), outputs.allSatisfy({ $0.0.acceptsTokenGEMM }) {
            tokenGEMM(x, outputs, rows: t, columns: columns)
            return
        }
        let total = outputs.reduce(0) { $0 + $1.0.rows }
        let panel = Self.panelRows(rows: total, columns: columns, threads: threads)
        var jobs: [(matrix: Int, rows: Range<Int>)] = []
        for (i, (w, _)) in outputs.enumerated() {
            for r0 in Swift.stride(from: 0, to: w.rows, by: panel) { jobs.append((i, r0..<min(w.rows, r0 + panel))) }
        }
        let need = threads * panel * columns
        if scratch.count < need { scratch = [Float](repeating: 0, count: need) }
        x.withUnsafeBufferPointer { xb in
            // Panels of weight rows: each worker dequantizes a panel into its own slice of the
            // scratch buffer (it stays in cache) and multiplies it at once with a single-threaded
            // sgemm into the panel's output columns.
            scratch.withUnsafeMutableBufferPointer { sb in
                let xp = xb.baseAddress!, sp = sb.baseAddress!
                pool.run(jobs.count) { job, worker in
                    let (i, r) = jobs[job]
                    let (w, yp) = outputs[i]
                    let wp = sp + worker * panel * columns
                    w.dequantize(rows: r, into: wp)
                    Ops.linear(xp, wp, yp + r.lowerBound, rows: t, input: columns, output: r.count, outputStride: w.rows)
                }
            }
        }
    }

    /// The batched path in integers (as llama.cpp multiplies prompts): the tokens quantized to
    /// Q8 once, then each worker multiplies its 32-row groups of each matrix
    /// (`PackedQ4_0.multiply`); no dequantized panels, no BLAS.
    func tokenGEMM(_ x: [Float], _ outputs: [(WeightMatrix, UnsafeMutablePointer<Float>)], rows t: Int, columns: Int) {
        let pool = self.pool
        let a = x.withUnsafeBufferPointer {
            Q8Tokens($0.baseAddress!, tokens: t, columns: columns) { n, f in pool.run(n) { job, _ in f(job) } }
        }
        let groupRows = PackedQ4_0.tokenGEMMRows
        let groups = outputs.reduce(0) { $0 + $1.0.rows / groupRows }
        let per = max(1, groups / (threads * 8)) * groupRows
        var jobs: [(matrix: Int, rows: Range<Int>)] = []
        for (i, (w, _)) in outputs.enumerated() {
            for r0 in Swift.stride(from: 0, to: w.rows, by: per) { jobs.append((i, r0..<min(w.rows, r0 + per))) }
        }
        pool.run(jobs.count) { job, _ in
            let (i, r) = jobs[job]
            let (w, yp) = outputs[i]
            w.multiply(a, rows: r, into: yp, stride: w.rows)
        }
    }

    /// Weight rows per panel of the batched path: about 2 MiB of f32 (at least 64 rows; 512 KiB
    /// gave ~10% lower prompt throughput on SmolLM2: OpenBLAS repacks the activations per call), but
    /// small enough that every thread gets at least two panels (multiples of 16 rows).
    static func panelRows(rows: Int, columns: Int, threads: Int) -> Int {
        let fit = max(64, (1 << 19) / max(1, columns))
        let share = (rows + 2 * threads - 1) / (2 * threads)
        return max(16, min(fit, (share + 15) / 16 * 16))
    }

    /// a = silu(a) ⊙ b, split across the pool for prompts (exp is most of the elementwise time).
    func swiGLU(_ a: inout [Float], _ b: [Float], count n: Int) {
        a.withUnsafeMutableBufferPointer { ab in b.withUnsafeBufferPointer { bb in
            let ap = ab.baseAddress!, bp = bb.baseAddress!
            let per = 1 << 14
            pool.run((n + per - 1) / per) { job, _ in
                var i = job * per
                let end = min(n, (job + 1) * per)
                while i + 8 <= end {
                    let a = UnsafeRawPointer(ap + i).loadUnaligned(as: SIMD8<Float>.self)
                    let b = UnsafeRawPointer(bp + i).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(ap + i).storeBytes(of: VectorExp.silu(a) * b, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < end { ap[i] = Ops.silu(ap[i]) * bp[i]; i += 1 }
            }
        } }
    }

    /// Several matrix-vector products over the same input in one parallel region (one
    /// dispatch instead of one per matrix: decoding calls these hundreds of times per token).
    /// The output pointers must stay valid for the call (the caller holds the arrays' buffers).
    func matvec(_ x: [Float], _ outputs: [(WeightMatrix, UnsafeMutablePointer<Float>)]) {
        x.withUnsafeBufferPointer { xb in
            let xp = xb.baseAddress!
            let ys = outputs.map(\.1)
            // x quantized once for every matrix whose format has an integer kernel.
            let q8 = quantizedActivations && outputs.contains { $0.0.usesQ8Activation } ? Q8Activation(xp, count: outputs[0].0.columns) : nil
            let total = outputs.reduce(0) { $0 + $1.0.rows }
            let per = (max(64, (total + threads * 4 - 1) / (threads * 4)) + 15) / 16 * 16   // whole 16-row groups
            pool.run((total + per - 1) / per) { job, _ in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: outputs.map(\.0.columns).max() ?? 1) { tmp in
                    var lo = job * per
                    let hi = min(total, lo + per)
                    var base = 0
                    for (i, (w, _)) in outputs.enumerated() {
                        let r0 = max(lo, base), r1 = min(hi, base + w.rows)
                        if r0 < r1 { w.matvec(xp, q8: q8, into: ys[i], rows: (r0 - base)..<(r1 - base), scratch: tmp.baseAddress!) }
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
}
