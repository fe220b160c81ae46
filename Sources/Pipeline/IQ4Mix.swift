import TensorCore

/// llama.cpp's type mixes for IQ4_NL and IQ4_XS, read from `llama_tensor_get_type_impl`
/// (src/llama-quant.cpp) for Llama-architecture models and written as `Recipe` rules over native
/// names (formats/presets.md): the output matrix (and a tied embedding) Q6_K; with 4 or more
/// query heads per KV head every `wv` (attn_v) Q5_K; without an importance matrix the `w2`
/// (ffn_down, experts' too) of the first eighth of the layers Q5_K; with 8 experts `wv` and `wk`
/// Q8_0 and `wo` Q5_K. Where llama.cpp falls back because a row is not a multiple of 256
/// (IQ4_XS → IQ4_NL, Q5_K → Q5_1, Q6_K and the output → Q8_0), Tramontane keeps the type and
/// ends each row in tail blocks.
struct IQ4Mix {
    let base: DType
    let rules: [Recipe.Rule]

    static let q5_k = DType.q5_k

    /// nil for a name that is not one of these mixes.
    init?(name: String, layers n: Int, gqa: Int, experts: Int, tiedEmbeddings: Bool, imatrix: Bool) throws {
        switch name {
        case "iq4_nl": base = .iq4_nl
        case "iq4_xs": base = .iq4_xs
        default: return nil
        }
        typealias Rule = Recipe.Rule
        var rules = [try Rule(pattern: #"^output\.weight$"#, type: .q6_k)]
        if tiedEmbeddings { rules.append(try Rule(pattern: #"^tok_embeddings\.weight$"#, type: .q6_k)) }
        if experts == 8 {
            rules.append(try Rule(pattern: #"^layers\.[0-9]+\.attention\.(wv|wk)\.weight$"#, type: .q8_0))
            rules.append(try Rule(pattern: #"^layers\.[0-9]+\.attention\.wo\.weight$"#, type: Self.q5_k))
        } else if gqa >= 4 {
            rules.append(try Rule(pattern: #"^layers\.[0-9]+\.attention\.wv\.weight$"#, type: Self.q5_k))
        }
        if !imatrix, n / 8 > 0 {
            let group = (0..<(n / 8)).map(String.init).joined(separator: "|")
            rules.append(try Rule(pattern: #"^layers\.(\#(group))\.feed_forward\.(experts\.([0-9]+\.)?)?w2\.weight$"#, type: Self.q5_k))
        }
        self.rules = rules
    }
}
