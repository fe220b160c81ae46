import Checkpoints
import Quantization
import TensorCore

/// A model's weights as f32 arrays, checked against its config: what the reference forward
/// pass reads. Block-quantized and half-precision tensors are dequantized once, on load.
public final class ModelWeights {
    public struct Layer {
        public let attentionNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3: [Float]
    }

    public let config: ModelConfig
    public let embeddings: [Float]
    public let layers: [Layer]
    public let norm: [Float]
    public let output: [Float]

    public init(_ model: NativeModel) throws {
        let c = model.config
        config = c
        guard c.moe == nil else { throw InferenceError.unsupported("mixture-of-experts models remap but cannot run yet") }
        let q = c.nHeads * c.headDim, kv = c.nKVHeads * c.headDim
        func load(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let t = model.tensor(name) else { throw CheckpointError.missingTensors([name]) }
            guard t.shape == shape else { throw InferenceError.shapeMismatch(tensor: name, expected: shape, found: t.shape) }
            let bytes = try t.load()
            var out = [Float](repeating: 0, count: t.elementCount)
            try bytes.withBytes { b in
                try out.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: t.dtype, into: $0, columns: shape.last ?? 1) }
            }
            bytes.dropPages()
            return out
        }
        embeddings = try load("tok_embeddings.weight", [c.vocabSize, c.dim])
        layers = try (0..<c.nLayers).map { l in
            let p = "layers.\(l)."
            return Layer(
                attentionNorm: try load(p + "attention_norm.weight", [c.dim]),
                wq: try load(p + "attention.wq.weight", [q, c.dim]),
                wk: try load(p + "attention.wk.weight", [kv, c.dim]),
                wv: try load(p + "attention.wv.weight", [kv, c.dim]),
                wo: try load(p + "attention.wo.weight", [c.dim, q]),
                ffnNorm: try load(p + "ffn_norm.weight", [c.dim]),
                w1: try load(p + "feed_forward.w1.weight", [c.hiddenDim, c.dim]),
                w2: try load(p + "feed_forward.w2.weight", [c.dim, c.hiddenDim]),
                w3: try load(p + "feed_forward.w3.weight", [c.hiddenDim, c.dim]))
        }
        norm = try load("norm.weight", [c.dim])
        output = model.aliases["output.weight"] == "tok_embeddings.weight" ? embeddings : try load("output.weight", [c.vocabSize, c.dim])
    }
}
