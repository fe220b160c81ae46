import TensorCore

/// A Mistral-family model's shape, in Mistral's native key names (params.json), whatever file it
/// came from: Hugging Face `config.json`, Mistral `params.json`, GGUF `llama.*` keys, or `.tmt`.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var architecture: String
    public var dim: Int
    public var nLayers: Int
    public var headDim: Int
    public var hiddenDim: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var normEps: Double
    public var vocabSize: Int
    public var ropeTheta: Double
    /// Attention window in tokens; nil means full causal attention.
    public var slidingWindow: Int?
    public var tieEmbeddings: Bool
    public var moe: MoE?
    public var bosTokenID: Int?
    public var eosTokenID: Int?

    public struct MoE: Codable, Equatable, Sendable {
        public var numExperts: Int
        public var numExpertsPerToken: Int
        enum CodingKeys: String, CodingKey {
            case numExperts = "num_experts"
            case numExpertsPerToken = "num_experts_per_tok"
        }
    }

    enum CodingKeys: String, CodingKey {
        case architecture, dim
        case nLayers = "n_layers"
        case headDim = "head_dim"
        case hiddenDim = "hidden_dim"
        case nHeads = "n_heads"
        case nKVHeads = "n_kv_heads"
        case normEps = "norm_eps"
        case vocabSize = "vocab_size"
        case ropeTheta = "rope_theta"
        case slidingWindow = "sliding_window"
        case tieEmbeddings = "tie_embeddings"
        case moe
        case bosTokenID = "bos_token_id"
        case eosTokenID = "eos_token_id"
    }

    /// Encodes `sliding_window` as null rather than omitting it.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(dim, forKey: .dim)
        try c.encode(nLayers, forKey: .nLayers)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(hiddenDim, forKey: .hiddenDim)
        try c.encode(nHeads, forKey: .nHeads)
        try c.encode(nKVHeads, forKey: .nKVHeads)
        try c.encode(normEps, forKey: .normEps)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encode(slidingWindow, forKey: .slidingWindow)
        try c.encode(tieEmbeddings, forKey: .tieEmbeddings)
        try c.encodeIfPresent(moe, forKey: .moe)
        try c.encodeIfPresent(bosTokenID, forKey: .bosTokenID)
        try c.encodeIfPresent(eosTokenID, forKey: .eosTokenID)
    }

    /// Checks the numbers agree with each other.
    public func validate(path: String) throws {
        func bad(_ s: String) -> CheckpointError { .invalidConfig(path: path, detail: s) }
        // The readers check each field as they read it, naming it as its file does; these
        // checks hold for a configuration made in code as well.
        for (k, v, range) in [("dim", dim, Limits.width), ("n_layers", nLayers, Limits.layers), ("head_dim", headDim, Limits.width),
                              ("hidden_dim", hiddenDim, Limits.width), ("n_heads", nHeads, Limits.width),
                              ("n_kv_heads", nKVHeads, Limits.width), ("vocab_size", vocabSize, Limits.width)] where !range.contains(v) {
            throw bad("\(k) = \(v) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        guard nHeads % nKVHeads == 0 else { throw bad("n_heads \(nHeads) is not a multiple of n_kv_heads \(nKVHeads)") }
        guard headDim % 2 == 0 else { throw bad("head_dim \(headDim) must be even for rotary embeddings") }
        if let w = slidingWindow, !Limits.window.contains(w) { throw bad("sliding_window \(w) must be positive or null") }
        if let moe {
            guard Limits.experts.contains(moe.numExperts) else { throw bad("moe.num_experts = \(moe.numExperts) is out of range \(Limits.experts.lowerBound)…\(Limits.experts.upperBound)") }
            guard (1...moe.numExperts).contains(moe.numExpertsPerToken) else {
                throw bad("moe.num_experts_per_tok = \(moe.numExpertsPerToken) is out of range 1…\(moe.numExperts)")
            }
            guard nLayers * moe.numExperts <= Limits.expertBlocks else {
                throw bad("n_layers × num_experts = \(nLayers) × \(moe.numExperts) exceeds \(Limits.expertBlocks) expert blocks")
            }
        }
        guard normEps > 0, normEps.isFinite, ropeTheta > 0, ropeTheta.isFinite else { throw bad("norm_eps and rope_theta must be positive") }
        for (k, id) in [("bos_token_id", bosTokenID), ("eos_token_id", eosTokenID)] {
            if let id, !(0..<vocabSize).contains(id) { throw bad("\(k) = \(id) is not a token id: the vocabulary has \(vocabSize) tokens") }
        }
    }

    /// Reads the JSON written by `encode` (as stored in `.tmt` metadata).
    public static func fromNativeJSON(_ v: JSONValue, path: String) throws -> ModelConfig {
        var c = try fromParams(v, path: path)
        if let a = v["architecture"]?.stringValue { c.architecture = a }
        if let t = v["tie_embeddings"]?.boolValue { c.tieEmbeddings = t }
        let f = ConfigFields(v, path: path)
        c.bosTokenID = try f.tokenID("bos_token_id", vocabulary: c.vocabSize)
        c.eosTokenID = try f.tokenID("eos_token_id", vocabulary: c.vocabSize)
        return c
    }
}
