import TensorCore

extension ModelConfig {
    /// What a `.tmt` does not record and an exported `config.json` must still say: the context
    /// length the model was trained for (transformers sizes nothing by it for these models).
    public static let exportedContextLength = 32768

    /// The Hugging Face model type this configuration exports as: a windowed model is Mistral
    /// (transformers' Llama has no window), experts make it Mixtral.
    public var huggingFaceModelType: String {
        if moe != nil { return "mixtral" }
        if architecture == "llama" && slidingWindow == nil { return "llama" }
        return "mistral"
    }

    /// A Hugging Face `config.json` that `fromHuggingFace` reads back as this configuration
    /// (with `architecture` its `huggingFaceModelType`). `dtype` is transformers' name
    /// (`bfloat16`, `float16`, `float32`).
    public func huggingFaceJSON(dtype: String) -> JSONValue {
        let type = huggingFaceModelType
        let classes = ["mistral": "MistralForCausalLM", "llama": "LlamaForCausalLM", "mixtral": "MixtralForCausalLM"]
        var o: [String: JSONValue] = [
            "architectures": .array([.string(classes[type] ?? "MistralForCausalLM")]),
            "model_type": .string(type),
            "hidden_size": .int(Int64(dim)),
            "intermediate_size": .int(Int64(hiddenDim)),
            "num_hidden_layers": .int(Int64(nLayers)),
            "num_attention_heads": .int(Int64(nHeads)),
            "num_key_value_heads": .int(Int64(nKVHeads)),
            "head_dim": .int(Int64(headDim)),
            "rms_norm_eps": .double(normEps),
            "rope_theta": .double(ropeTheta),
            "vocab_size": .int(Int64(vocabSize)),
            "max_position_embeddings": .int(Int64(ModelConfig.exportedContextLength)),
            "tie_word_embeddings": .bool(tieEmbeddings),
            "hidden_act": .string("silu"),
            "attention_bias": .bool(false),
            "mlp_bias": .bool(false),
            "attention_dropout": .double(0),
            "initializer_range": .double(0.02),
            "use_cache": .bool(true),
            "torch_dtype": .string(dtype),
        ]
        if type != "llama" { o["sliding_window"] = slidingWindow.map { .int(Int64($0)) } ?? .null }
        if let moe {
            o["num_local_experts"] = .int(Int64(moe.numExperts))
            o["num_experts_per_tok"] = .int(Int64(moe.numExpertsPerToken))
            o["router_aux_loss_coef"] = .double(0.02)
            o["output_router_logits"] = .bool(false)
        }
        if let bosTokenID { o["bos_token_id"] = .int(Int64(bosTokenID)) }
        if let eosTokenID { o["eos_token_id"] = .int(Int64(eosTokenID)) }
        return .object(o)
    }

    /// `generation_config.json`: the special tokens, as transformers writes it from a config.
    public var generationJSON: JSONValue {
        var o: [String: JSONValue] = ["_from_model_config": .bool(true)]
        if let bosTokenID { o["bos_token_id"] = .int(Int64(bosTokenID)) }
        if let eosTokenID { o["eos_token_id"] = .int(Int64(eosTokenID)) }
        return .object(o)
    }

    /// Mistral's `params.json`, which `fromParams` reads back as this configuration (the
    /// special token ids are the tokenizer's business there and are not written).
    public var paramsJSON: JSONValue {
        var o: [String: JSONValue] = [
            "dim": .int(Int64(dim)),
            "n_layers": .int(Int64(nLayers)),
            "head_dim": .int(Int64(headDim)),
            "hidden_dim": .int(Int64(hiddenDim)),
            "n_heads": .int(Int64(nHeads)),
            "n_kv_heads": .int(Int64(nKVHeads)),
            "norm_eps": .double(normEps),
            "vocab_size": .int(Int64(vocabSize)),
            "rope_theta": .double(ropeTheta),
        ]
        if let slidingWindow { o["sliding_window"] = .int(Int64(slidingWindow)) }
        if tieEmbeddings { o["tied_embeddings"] = .bool(true) }
        if let moe {
            o["moe"] = .object(["num_experts": .int(Int64(moe.numExperts)), "num_experts_per_tok": .int(Int64(moe.numExpertsPerToken))])
        }
        return .object(o)
    }
}
