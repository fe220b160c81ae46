import TensorCore

extension ModelConfig {
    static func require(_ v: JSONValue, _ key: String, path: String) throws -> Int {
        guard let x = v[key]?.intValue else { throw CheckpointError.invalidConfig(path: path, detail: "\(key) is missing or not an integer") }
        return x
    }

    /// Mistral's `params.json`. A missing `rope_theta` means 10000 and a missing
    /// `sliding_window` means none, as in mistral-inference.
    public static func fromParams(_ v: JSONValue, path: String) throws -> ModelConfig {
        let dim = try require(v, "dim", path: path)
        let nHeads = try require(v, "n_heads", path: path)
        var moe: MoE?
        if let m = v["moe"], let n = m["num_experts"]?.intValue {
            moe = MoE(numExperts: n, numExpertsPerToken: m["num_experts_per_tok"]?.intValue ?? 2)
        }
        let c = ModelConfig(
            architecture: moe == nil ? "mistral" : "mixtral",
            dim: dim,
            nLayers: try require(v, "n_layers", path: path),
            headDim: v["head_dim"]?.intValue ?? (nHeads > 0 ? dim / nHeads : 0),
            hiddenDim: try require(v, "hidden_dim", path: path),
            nHeads: nHeads,
            nKVHeads: v["n_kv_heads"]?.intValue ?? nHeads,
            normEps: v["norm_eps"]?.doubleValue ?? 1e-5,
            vocabSize: try require(v, "vocab_size", path: path),
            ropeTheta: v["rope_theta"]?.doubleValue ?? 10000,
            slidingWindow: v["sliding_window"]?.intValue,
            tieEmbeddings: v["tied_embeddings"]?.boolValue ?? false,
            moe: moe)
        try c.validate(path: path)
        return c
    }

    /// Hugging Face `config.json` (Mistral, Llama, Mixtral). `head_dim` may differ from
    /// hidden/heads; `rope_theta` may sit under `rope_parameters`; `sliding_window` may be null.
    public static func fromHuggingFace(_ v: JSONValue, path: String) throws -> ModelConfig {
        let dim = try require(v, "hidden_size", path: path)
        let nHeads = try require(v, "num_attention_heads", path: path)
        let modelType = v["model_type"]?.stringValue ?? "mistral"
        let theta = v["rope_theta"]?.doubleValue ?? v["rope_parameters"]?["rope_theta"]?.doubleValue ?? 10000
        var moe: MoE?
        if let n = v["num_local_experts"]?.intValue {
            moe = MoE(numExperts: n, numExpertsPerToken: v["num_experts_per_tok"]?.intValue ?? 2)
        }
        var window = v["sliding_window"]?.intValue
        // Transformers' Llama has no window; some configs carry use_sliding_window: false.
        if v["use_sliding_window"]?.boolValue == false { window = nil }
        let headDim = v["head_dim"]?.intValue ?? (nHeads > 0 ? dim / nHeads : 0)
        let c = ModelConfig(
            architecture: modelType,
            dim: dim,
            nLayers: try require(v, "num_hidden_layers", path: path),
            headDim: headDim,
            hiddenDim: try require(v, "intermediate_size", path: path),
            nHeads: nHeads,
            nKVHeads: v["num_key_value_heads"]?.intValue ?? nHeads,
            normEps: v["rms_norm_eps"]?.doubleValue ?? 1e-6,
            vocabSize: try require(v, "vocab_size", path: path),
            ropeTheta: theta,
            slidingWindow: window,
            tieEmbeddings: v["tie_word_embeddings"]?.boolValue ?? false,
            moe: moe,
            bosTokenID: v["bos_token_id"]?.intValue,
            eosTokenID: v["eos_token_id"]?.intValue)
        try c.validate(path: path)
        return c
    }

    /// GGUF metadata of the `llama` architecture family (`llama.*` keys; other architecture
    /// names use the same key suffixes under their own prefix).
    public static func fromGGUF(_ gguf: GGUFFile) throws -> ModelConfig {
        let path = gguf.path
        guard let arch = gguf.value("general.architecture")?.stringValue else {
            throw CheckpointError.invalidConfig(path: path, detail: "general.architecture is missing")
        }
        func int(_ k: String) throws -> Int {
            guard let v = gguf.value("\(arch).\(k)")?.intValue else {
                throw CheckpointError.invalidConfig(path: path, detail: "\(arch).\(k) is missing")
            }
            return v
        }
        let dim = try int("embedding_length")
        let nHeads = try int("attention.head_count")
        let vocab = gguf.value("\(arch).vocab_size")?.intValue
            ?? gguf.arrayCount("tokenizer.ggml.tokens")
            ?? gguf.tensors.first { $0.name == "token_embd.weight" }?.shape.first ?? 0
        var moe: MoE?
        if let n = gguf.value("\(arch).expert_count")?.intValue, n > 0 {
            moe = MoE(numExperts: n, numExpertsPerToken: gguf.value("\(arch).expert_used_count")?.intValue ?? 2)
        }
        let c = ModelConfig(
            architecture: arch,
            dim: dim,
            nLayers: try int("block_count"),
            headDim: gguf.value("\(arch).attention.key_length")?.intValue ?? (nHeads > 0 ? dim / nHeads : 0),
            hiddenDim: try int("feed_forward_length"),
            nHeads: nHeads,
            nKVHeads: gguf.value("\(arch).attention.head_count_kv")?.intValue ?? nHeads,
            normEps: gguf.value("\(arch).attention.layer_norm_rms_epsilon")?.doubleValue ?? 1e-5,
            vocabSize: vocab,
            ropeTheta: gguf.value("\(arch).rope.freq_base")?.doubleValue ?? 10000,
            slidingWindow: gguf.value("\(arch).attention.sliding_window")?.intValue,
            tieEmbeddings: !gguf.tensors.contains { $0.name == "output.weight" },
            moe: moe,
            bosTokenID: gguf.value("tokenizer.ggml.bos_token_id")?.intValue,
            eosTokenID: gguf.value("tokenizer.ggml.eos_token_id")?.intValue)
        try c.validate(path: path)
        return c
    }
}
