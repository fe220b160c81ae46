import TensorCore

extension NativeModel {
    /// Checks every tensor against the config as the engine will read it: its shape from the
    /// config's sizes (names the config field that sets it), no layer or expert past the
    /// config's count, and a dtype the engine can run (floats or block formats; integers and
    /// booleans are not weights). `convert` and `quantize` call it before writing, so a file
    /// that would fail or run wrong later is never made.
    public func checkAgainstConfig() throws {
        let c = config
        let q = c.nHeads * c.headDim, kv = c.nKVHeads * c.headDim
        let experts = c.moe?.numExperts
        func bad(_ t: SourceTensor, _ detail: String) -> CheckpointError { .invalidTensor(path: t.origin, tensor: t.name, detail: detail) }
        for t in tensors {
            guard t.dtype.isFloat || t.dtype.isBlockQuantized else {
                throw bad(t, "\(t.dtype.rawValue) values are not weights (a float or block-quantized tensor is expected)")
            }
            var rest = Substring(t.name)
            if rest.hasPrefix("layers.") {
                let afterPrefix = rest.dropFirst("layers.".count)
                guard let dot = afterPrefix.firstIndex(of: "."), let layer = Int(afterPrefix[..<dot]) else { continue }
                guard layer < c.nLayers else { throw bad(t, "layer \(layer), but the config has n_layers = \(c.nLayers)") }
                rest = afterPrefix[afterPrefix.index(after: dot)...]
            }
            let expected: (shape: [Int], why: String)?
            switch rest {
            case "tok_embeddings.weight", "output.weight": expected = ([c.vocabSize, c.dim], "vocab_size × dim")
            case "norm.weight", "attention_norm.weight", "ffn_norm.weight": expected = ([c.dim], "dim")
            case "attention.wq.weight": expected = ([q, c.dim], "n_heads·head_dim × dim")
            case "attention.wk.weight", "attention.wv.weight": expected = ([kv, c.dim], "n_kv_heads·head_dim × dim")
            case "attention.wo.weight": expected = ([c.dim, q], "dim × n_heads·head_dim")
            case "feed_forward.w1.weight", "feed_forward.w3.weight": expected = ([c.hiddenDim, c.dim], "hidden_dim × dim")
            case "feed_forward.w2.weight": expected = ([c.dim, c.hiddenDim], "dim × hidden_dim")
            case "feed_forward.gate.weight": expected = experts.map { ([$0, c.dim], "num_experts × dim") }
            case "feed_forward.experts.w1.weight", "feed_forward.experts.w3.weight":
                expected = experts.map { ([$0, c.hiddenDim, c.dim], "num_experts × hidden_dim × dim") }
            case "feed_forward.experts.w2.weight":
                expected = experts.map { ([$0, c.dim, c.hiddenDim], "num_experts × dim × hidden_dim") }
            default:
                // One expert's matrix: feed_forward.experts.E.wK.weight.
                let parts = rest.split(separator: ".")
                guard parts.count == 5, parts[0] == "feed_forward", parts[1] == "experts", let e = Int(parts[2]), parts[4] == "weight" else {
                    expected = nil
                    break
                }
                guard let experts, e < experts else { throw bad(t, "expert \(e), but the config has num_experts = \(experts ?? 0)") }
                switch parts[3] {
                case "w1", "w3": expected = ([c.hiddenDim, c.dim], "hidden_dim × dim")
                case "w2": expected = ([c.dim, c.hiddenDim], "dim × hidden_dim")
                default: expected = nil
                }
            }
            guard let expected else { continue }
            guard t.shape == expected.shape else {
                throw bad(t, "shape \(t.shape), but the config's \(expected.why) gives \(expected.shape)")
            }
            if expected.shape.count == 1, !t.dtype.isFloat {
                throw bad(t, "a norm stored as \(t.dtype.rawValue); norms are f32, f16 or bf16")
            }
        }
    }
}
