import Checkpoints
import TensorCore

/// Which block format each tensor gets: ordered rules (first match wins), then a default.
/// Presets are named rule lists; `--rule 'REGEX=TYPE'` rules go before the preset's.
/// Tensors with one dimension (norms) always stay F32.
public struct Recipe: Sendable {
    public struct Rule: @unchecked Sendable, CustomStringConvertible {  // Regex is an immutable value
        public let pattern: String
        public let type: DType
        let regex: Regex<AnyRegexOutput>

        public init(pattern: String, type: DType) throws {
            self.pattern = pattern
            self.type = type
            do { regex = try Regex(pattern) } catch { throw PipelineError.badPattern(pattern, "\(error)") }
        }

        /// Parses `REGEX=TYPE`.
        public init(parsing s: String) throws {
            guard let eq = s.lastIndex(of: "=") else { throw PipelineError.badRule(s) }
            let type = String(s[s.index(after: eq)...]).lowercased()
            guard let t = DType(rawValue: type) else { throw PipelineError.unknownType(type) }
            try self.init(pattern: String(s[..<eq]), type: t)
        }

        public func matches(_ name: String) -> Bool { (try? regex.firstMatch(in: name)) != nil }
        public var description: String { "\(pattern)=\(type.rawValue)" }
    }

    public var name: String
    public var rules: [Rule]
    public var defaultType: DType

    public static let presetNames = ["q8_0", "q6_k", "q5_1", "q5_0", "q4_k", "q4_1", "q4_0", "q4_k_m", "q4_k_s",
                                     "q5_k_s", "q5_k_m", "q3_k_s", "q3_k_m", "q3_k_l", "q2_k", "iq4_nl", "iq4_xs"]

    /// A preset for a model with `layers` layers; llama.cpp's mixes added with Q5_K/Q3_K/Q2_K and
    /// IQ4 also read the grouped-query ratio (n_heads / n_kv_heads), the expert count, whether the
    /// output matrix is the token embedding and (IQ4) whether an importance matrix is used
    /// (formats/presets.md).
    public static func preset(_ name: String, layers: Int, gqa: Int = 1, experts: Int = 1, tiedEmbeddings: Bool = false,
                              imatrix: Bool = false) throws -> Recipe {
        if let mix = try LlamaMix(name: name, layers: layers, gqa: gqa, experts: experts, tiedEmbeddings: tiedEmbeddings) {
            return Recipe(name: name, rules: mix.rules, defaultType: mix.base)
        }
        if let mix = try IQ4Mix(name: name, layers: layers, gqa: gqa, experts: experts, tiedEmbeddings: tiedEmbeddings, imatrix: imatrix) {
            return Recipe(name: name, rules: mix.rules, defaultType: mix.base)
        }
        switch name {
        case "q4_k_m":
            // llama.cpp's Q4_K_M mix: the output matrix and the `wv`/`w2` of the first and last
            // eighth of the layers and of every third layer between get Q6_K.
            let more = (0..<layers).filter { i in i < layers / 8 || i >= 7 * layers / 8 || (i - layers / 8) % 3 == 2 }
            let group = more.map(String.init).joined(separator: "|")
            var rules = [try Rule(pattern: #"^output\.weight$"#, type: .q6_k)]
            if !more.isEmpty {
                rules.append(try Rule(pattern: #"^layers\.(\#(group))\.(attention\.wv|feed_forward\.w2)\.weight$"#, type: .q6_k))
            }
            return Recipe(name: name, rules: rules, defaultType: .q4_k)
        case "q4_k_s":
            return Recipe(name: name, rules: [try Rule(pattern: #"^output\.weight$"#, type: .q6_k)], defaultType: .q4_k)
        default:
            guard presetNames.contains(name), let t = DType(rawValue: name) else { throw PipelineError.unknownType(name) }
            return Recipe(name: name, rules: [], defaultType: t)
        }
    }

    /// The preset for a model of this shape, as `quantize` and `ladder` both choose it: the
    /// llama.cpp mixes read the layer count, the grouped-query ratio, the experts and whether the
    /// output matrix is the token embedding; the IQ4 mixes also whether an importance matrix is used.
    public static func preset(_ name: String, for c: ModelConfig, imatrix: Bool) throws -> Recipe {
        try preset(name, layers: c.nLayers, gqa: c.nHeads / max(1, c.nKVHeads), experts: c.moe?.numExperts ?? 1,
                   tiedEmbeddings: c.tieEmbeddings, imatrix: imatrix)
    }

    /// The type for a tensor, and why.
    public func type(for name: String, shape: [Int]) -> (DType, String) {
        if shape.count < 2 { return (.f32, "1-D tensors stay f32") }
        for r in rules where r.matches(name) { return (r.type, "rule \(r)") }
        if name.hasPrefix("layers."), name.hasSuffix(".feed_forward.gate.weight") {
            return (.f32, "MoE routers stay f32 (as in llama.cpp): their logits choose the experts")
        }
        return (defaultType, "default \(defaultType.rawValue)")
    }
}
