import Checkpoints
import Quantization
import TensorCore

/// A model's weights checked against its config. Matrices stay in their stored format (views
/// into the mapped file, or the decoded `.tmt` buffer); only the norm gains are f32 arrays.
public final class ModelWeights {
    public struct Layer {
        public let attentionNorm: [Float], ffnNorm: [Float]
        public let wq, wk, wv, wo, w1, w2, w3: WeightMatrix
    }

    public let config: ModelConfig
    public let embeddings: WeightMatrix
    public let layers: [Layer]
    public let norm: [Float]
    public let output: WeightMatrix

    public init(_ model: NativeModel) throws {
        let c = model.config
        config = c
        guard c.moe == nil else { throw InferenceError.unsupported("mixture-of-experts models remap but cannot run yet") }
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
        func vector(_ name: String, _ n: Int) throws -> [Float] {
            let t = try tensor(name, [n])
            var out = [Float](repeating: 0, count: n)
            try t.load().withBytes { b in try out.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: t.dtype, into: $0) } }
            return out
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
                w1: try matrix(p + "feed_forward.w1.weight", c.hiddenDim, c.dim),
                w2: try matrix(p + "feed_forward.w2.weight", c.dim, c.hiddenDim),
                w3: try matrix(p + "feed_forward.w3.weight", c.hiddenDim, c.dim))
        }
        norm = try vector("norm.weight", c.dim)
        output = model.aliases["output.weight"] == "tok_embeddings.weight" ? embeddings : try matrix("output.weight", c.vocabSize, c.dim)
    }
}
