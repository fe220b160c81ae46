import TensorCore

/// llama.cpp's type mixes for Q5_K_S, Q5_K_M, Q3_K_S, Q3_K_M, Q3_K_L and Q2_K, read from
/// `llama_tensor_get_type_impl` (src/llama-quant.cpp) for Llama-architecture models (not
/// Falcon, not its 70B special case) and written as `Recipe` rules over native names: which
/// layers' `wv` (attn_v), `wk` (attn_k), `wo` (attn_output) and `w2` (ffn_down, experts' too)
/// get a type other than the base. formats/presets.md lists the rules. Where llama.cpp falls
/// back to a 32-weight type because a row is not a multiple of 256 (Q3_K/Q2_K → Q4_0, Q5_K →
/// Q5_1, Q6_K → Q8_0, an output or tied embedding → Q8_0), Tramontane keeps the k-quant with
/// tail blocks instead.
struct LlamaMix {
    let base: DType
    let rules: [Recipe.Rule]

    static let names: Set<String> = ["q5_k_s", "q5_k_m", "q3_k_s", "q3_k_m", "q3_k_l", "q2_k"]

    /// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every third between.
    static func moreBits(_ i: Int, _ n: Int) -> Bool { i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2 }

    /// nil for a name that is not one of these mixes.
    init?(name: String, layers n: Int, gqa: Int, experts: Int, tiedEmbeddings: Bool) throws {
        guard Self.names.contains(name) else { return nil }
        let eightExperts = experts == 8
        var rules = [try Recipe.Rule(pattern: #"^output\.weight$"#, type: .q6_k)]
        // A tied embedding is quantized as the output matrix.
        if tiedEmbeddings { rules.append(try Recipe.Rule(pattern: #"^tok_embeddings\.weight$"#, type: .q6_k)) }
        let wv = #"attention\.wv"#, wk = #"attention\.wk"#, wo = #"attention\.wo"#, w2 = #"feed_forward\.(experts\.([0-9]+\.)?)?w2"#
        /// `tensor` of the layers where `type(i)` is not nil gets that type (one rule per type).
        func perLayer(_ tensor: String, _ type: (Int) -> DType?) throws {
            var groups: [(DType, [Int])] = []
            for i in 0..<n {
                guard let t = type(i) else { continue }
                if let k = groups.firstIndex(where: { $0.0 == t }) { groups[k].1.append(i) } else { groups.append((t, [i])) }
            }
            for (t, layers) in groups {
                let group = layers.count == n ? "[0-9]+" : "(" + layers.map(String.init).joined(separator: "|") + ")"
                rules.append(try Recipe.Rule(pattern: #"^layers\.\#(group)\.\#(tensor)\.weight$"#, type: t))
            }
        }
        // With 8 experts llama.cpp gives attn_v and attn_k Q8_0 in every k-quant mix.
        if eightExperts { try perLayer(wk) { _ in .q8_0 } }
        switch name {
        case "q2_k":
            base = .q2_k
            try perLayer(wv) { _ in eightExperts ? .q8_0 : gqa >= 4 ? .q4_k : .q3_k }
            try perLayer(w2) { _ in .q3_k }
            try perLayer(wo) { _ in eightExperts ? .q5_k : .q3_k }
        case "q3_k_s":
            base = .q3_k
            if eightExperts {
                try perLayer(wv) { _ in .q8_0 }
                try perLayer(wo) { _ in .q5_k }
            }
        case "q3_k_m":
            base = .q3_k
            try perLayer(wv) { i in eightExperts ? .q8_0 : i < 2 ? .q5_k : .q4_k }
            try perLayer(w2) { i in i < n / 16 ? .q5_k : .q4_k }
            try perLayer(wo) { _ in eightExperts ? .q5_k : .q4_k }
        case "q3_k_l":
            base = .q3_k
            try perLayer(wv) { _ in eightExperts ? .q8_0 : .q5_k }
            try perLayer(w2) { _ in .q5_k }
            // (llama.cpp's 8-expert attn_output list omits Q3_K_L: it stays Q3_K there.)
            if !eightExperts { try perLayer(wo) { _ in .q5_k } }
        case "q5_k_s":
            base = .q5_k
            if eightExperts { try perLayer(wv) { _ in .q8_0 } }
        default:   // q5_k_m
            base = .q5_k
            try perLayer(wv) { i in eightExperts ? .q8_0 : Self.moreBits(i, n) ? .q6_k : nil }
            try perLayer(w2) { i in Self.moreBits(i, n) ? .q6_k : nil }
        }
        self.rules = rules
    }
}
