import TensorCore

extension ModelConfig {
    /// Mistral's `params.json` (and a `.tmt`'s config, which uses its key names). A missing
    /// `rope_theta` means 10000 and a missing `sliding_window` means none, as in
    /// mistral-inference.
    public static func fromParams(_ v: JSONValue, path: String) throws -> ModelConfig {
        let f = ConfigFields(v, path: path)
        let dim = try f.require("dim", in: Limits.width)
        let nHeads = try f.require("n_heads", in: Limits.width)
        var moe: MoE?
        // An expert count of 0 means a dense model, as llama.cpp writes it.
        if let n = try f.int("moe.num_experts", in: 0...Limits.experts.upperBound), n > 0 {
            moe = MoE(numExperts: n, numExpertsPerToken: try f.int("moe.num_experts_per_tok", in: 1...n) ?? 2)
        }
        let c = ModelConfig(
            architecture: moe == nil ? "mistral" : "mixtral",
            dim: dim,
            nLayers: try f.require("n_layers", in: Limits.layers),
            headDim: try f.int("head_dim", in: Limits.width) ?? dim / nHeads,
            hiddenDim: try f.require("hidden_dim", in: Limits.width),
            nHeads: nHeads,
            nKVHeads: try f.int("n_kv_heads", in: Limits.width) ?? nHeads,
            normEps: try f.positive("norm_eps") ?? 1e-5,
            vocabSize: try f.require("vocab_size", in: Limits.width),
            ropeTheta: try f.positive("rope_theta") ?? 10000,
            slidingWindow: try f.int("sliding_window", in: Limits.window),
            tieEmbeddings: v["tied_embeddings"]?.boolValue ?? false,
            moe: moe)
        try c.validate(path: path)
        return c
    }

    /// Hugging Face `config.json` (Mistral, Llama, Mixtral). `head_dim` may differ from
    /// hidden/heads; `rope_theta` may sit under `rope_parameters`; `sliding_window` may be null.
    public static func fromHuggingFace(_ v: JSONValue, path: String) throws -> ModelConfig {
        let f = ConfigFields(v, path: path)
        let dim = try f.require("hidden_size", in: Limits.width)
        let nHeads = try f.require("num_attention_heads", in: Limits.width)
        let modelType = v["model_type"]?.stringValue ?? "mistral"
        let theta = try f.positive("rope_theta") ?? f.positive("rope_parameters.rope_theta") ?? 10000
        var moe: MoE?
        // An expert count of 0 means a dense model, as llama.cpp writes it.
        if let n = try f.int("num_local_experts", in: 0...Limits.experts.upperBound), n > 0 {
            moe = MoE(numExperts: n, numExpertsPerToken: try f.int("num_experts_per_tok", in: 1...n) ?? 2)
        }
        // Transformers' Llama has no window; some configs carry use_sliding_window: false
        // (with any sliding_window, which is then not read).
        let window = v["use_sliding_window"]?.boolValue == false ? nil : try f.int("sliding_window", in: Limits.window)
        var c = ModelConfig(
            architecture: modelType,
            dim: dim,
            nLayers: try f.require("num_hidden_layers", in: Limits.layers),
            headDim: try f.int("head_dim", in: Limits.width) ?? dim / nHeads,
            hiddenDim: try f.require("intermediate_size", in: Limits.width),
            nHeads: nHeads,
            nKVHeads: try f.int("num_key_value_heads", in: Limits.width) ?? nHeads,
            normEps: try f.positive("rms_norm_eps") ?? 1e-6,
            vocabSize: try f.require("vocab_size", in: Limits.width),
            ropeTheta: theta,
            slidingWindow: window,
            tieEmbeddings: v["tie_word_embeddings"]?.boolValue ?? false,
            moe: moe)
        try c.validate(path: path)
        // Checked against the vocabulary once it is known to be in range; pad_token_id is not
        // kept, but an id past the vocabulary is as wrong there.
        c.bosTokenID = try f.tokenID("bos_token_id", vocabulary: c.vocabSize)
        c.eosTokenID = try f.tokenID("eos_token_id", vocabulary: c.vocabSize)
        _ = try f.tokenID("pad_token_id", vocabulary: c.vocabSize, none: -1)
        return c
    }

    /// GGUF metadata of the `llama` architecture family (`llama.*` keys; other architecture
    /// names use the same key suffixes under their own prefix).
    package static func fromGGUF(_ gguf: GGUFFile) throws -> ModelConfig {
        let path = gguf.path
        guard let arch = gguf.value("general.architecture")?.stringValue else {
            throw CheckpointError.invalidConfig(path: path, detail: "general.architecture is missing")
        }
        let f = ConfigFields(path: path) { gguf.value($0) }
        let a = "\(arch)."
        let dim = try f.require(a + "embedding_length", in: Limits.width)
        let nHeads = try f.require(a + "attention.head_count", in: Limits.width)
        let vocab = try f.int(a + "vocab_size", in: Limits.width)
            ?? gguf.arrayCount("tokenizer.ggml.tokens")
            ?? gguf.tensors.first { $0.name == "token_embd.weight" }?.shape.first ?? 0
        var moe: MoE?
        // llama.cpp writes expert_count 0 for a dense model.
        if let n = try f.int(a + "expert_count", in: 0...Limits.experts.upperBound), n > 0 {
            moe = MoE(numExperts: n, numExpertsPerToken: try f.int(a + "expert_used_count", in: 1...n) ?? 2)
        }
        var c = ModelConfig(
            architecture: arch,
            dim: dim,
            nLayers: try f.require(a + "block_count", in: Limits.layers),
            headDim: try f.int(a + "attention.key_length", in: Limits.width) ?? dim / nHeads,
            hiddenDim: try f.require(a + "feed_forward_length", in: Limits.width),
            nHeads: nHeads,
            nKVHeads: try f.int(a + "attention.head_count_kv", in: Limits.width) ?? nHeads,
            normEps: try f.positive(a + "attention.layer_norm_rms_epsilon") ?? 1e-5,
            vocabSize: vocab,
            ropeTheta: try f.positive(a + "rope.freq_base") ?? 10000,
            slidingWindow: try f.int(a + "attention.sliding_window", in: Limits.window),
            tieEmbeddings: !gguf.tensors.contains { $0.name == "output.weight" },
            moe: moe)
        try c.validate(path: path)
        // The tokenizer's own check (GGUFVocabularyFields) holds every *_token_id to the tokens
        // array; these two are also held to the vocabulary the model has when there is none.
        c.bosTokenID = try f.tokenID("tokenizer.ggml.bos_token_id", vocabulary: c.vocabSize)
        c.eosTokenID = try f.tokenID("tokenizer.ggml.eos_token_id", vocabulary: c.vocabSize)
        return c
    }
}
