import Checkpoints
import Quantization
import TensorCore

/// A model's weights checked against its config. Matrices stay in their stored format (views
/// into the mapped file, or the decoded `.tmt` buffer); only the norm gains are f32 arrays.
package final class ModelWeights {
    package struct Layer {
        package let attentionNorm: [Float], ffnNorm: [Float]
        package let wq, wk, wv, wo: WeightMatrix
        package let feedForward: FeedForward
    }

    /// One SwiGLU block: w2(silu(w1·x) ⊙ w3·x).
    package struct Expert {
        package let w1, w2, w3: WeightMatrix
    }

    /// A dense feed-forward block, or Mixtral's mixture: a router (`gate`, [experts, dim]) picks
    /// `perToken` experts per token and their outputs are summed with the softmax of the chosen
    /// router logits.
    package enum FeedForward {
        case dense(Expert)
        case mixture(gate: WeightMatrix, experts: [Expert], perToken: Int)
    }

    package let config: ModelConfig
    package let embeddings: WeightMatrix
    package let layers: [Layer]
    package let norm: [Float]
    package let output: WeightMatrix

    package init(_ model: NativeModel) throws {
        let c = model.config
        config = c
        let q = c.nHeads * c.headDim, kv = c.nKVHeads * c.headDim
        func tensor(_ name: String, _ shape: [Int]) throws -> SourceTensor {
            guard let t = model.tensor(name) else { throw CheckpointError.missingTensors([name]) }
            guard t.shape == shape else { throw InferenceError.shapeMismatch(tensor: name, expected: shape, found: t.shape) }
            return t
        }
        let arena = LargeBufferArena()   // repacked matrices share huge-page buffers
        func matrix(_ name: String, _ rows: Int, _ columns: Int) throws -> WeightMatrix {
            let t = try tensor(name, [rows, columns])
            return try WeightMatrix(name: name, dtype: t.dtype, rows: rows, columns: columns, region: try t.load(), arena: arena)
        }
        /// Expert `e`'s [rows, columns] matrix: its own tensor, or slice e of a stacked
        /// [experts, rows, columns] one (GGUF's `ffn_*_exps`).
        func expertMatrix(_ prefix: String, _ e: Int, _ w: String, _ rows: Int, _ columns: Int, experts: Int) throws -> WeightMatrix {
            let name = prefix + "feed_forward.experts.\(e).\(w).weight"
            if model.tensor(name) != nil { return try matrix(name, rows, columns) }
            let stackedName = prefix + "feed_forward.experts.\(w).weight"
            guard model.tensor(stackedName) != nil else { throw CheckpointError.missingTensors([name]) }
            let t = try tensor(stackedName, [experts, rows, columns])
            let bytes = rows * (try t.dtype.rowBytes(columns))
            let all = try t.load()
            guard all.count >= experts * bytes else { throw TensorError.invalidShape("\(stackedName): \(all.count) bytes for \(experts) experts of \(bytes)") }
            let slice = ByteRegion(owner: all.owner, bytes: UnsafeRawBufferPointer(rebasing: all.bytes[(e * bytes)..<((e + 1) * bytes)]))
            return try WeightMatrix(name: name, dtype: t.dtype, rows: rows, columns: columns, region: slice, arena: arena)
        }
        func vector(_ name: String, _ n: Int) throws -> [Float] {
            let t = try tensor(name, [n])
            var out = [Float](repeating: 0, count: n)
            try t.load().withBytes { b in try out.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: t.dtype, into: $0) } }
            return out
        }
        func feedForward(_ p: String) throws -> FeedForward {
            guard let moe = c.moe else {
                return .dense(Expert(w1: try matrix(p + "feed_forward.w1.weight", c.hiddenDim, c.dim),
                                     w2: try matrix(p + "feed_forward.w2.weight", c.dim, c.hiddenDim),
                                     w3: try matrix(p + "feed_forward.w3.weight", c.hiddenDim, c.dim)))
            }
            let n = moe.numExperts
            guard n > 0, (1...n).contains(moe.numExpertsPerToken) else {
                throw InferenceError.unsupported("\(moe.numExpertsPerToken) experts per token of \(n)")
            }
            let experts = try (0..<n).map { e in
                Expert(w1: try expertMatrix(p, e, "w1", c.hiddenDim, c.dim, experts: n),
                       w2: try expertMatrix(p, e, "w2", c.dim, c.hiddenDim, experts: n),
                       w3: try expertMatrix(p, e, "w3", c.hiddenDim, c.dim, experts: n))
            }
            return .mixture(gate: try matrix(p + "feed_forward.gate.weight", n, c.dim), experts: experts, perToken: moe.numExpertsPerToken)
        }
        embeddings = try matrix("tok_embeddings.weight", c.vocabSize, c.dim)
        layers = try (0..<c.nLayers).map { l in
            let p = "layers.\(l)."
            return Layer(
                attentionNorm: try vector(p + "attention_norm.weight", c.dim),
                ffnNorm: try vector(p + "ffn_norm.weight", c.dim),
                wq: try matrix(p + "attention.wq.weight", q, c.dim),
                wk: try matrix(p + "attention.wk.weight", kv, c.dim),
                wv: try matrix(p + "attention.wv.weight", kv, c.dim),
                wo: try matrix(p + "attention.wo.weight", c.dim, q),
                feedForward: try feedForward(p))
        }
        norm = try vector("norm.weight", c.dim)
        output = model.aliases["output.weight"] == "tok_embeddings.weight" ? embeddings : try matrix("output.weight", c.vocabSize, c.dim)
    }
}
