import Quantization

/// Why a pipeline step (a recipe, a ladder, an export, a chat turn) was refused. Errors of the
/// stages below (reading, parsing, running) pass through as their own modules' errors.
public enum PipelineError: Error, CustomStringConvertible {
    // Recipes (`--type`, `--rule`)
    case badRule(String)
    case badPattern(String, String)
    case unknownType(String)

    // The ladder (`tramontane ladder`)
    case unknownRung(String)
    case duplicateRung(String)
    case tooFewTokens(tokens: Int, ctx: Int, heldOut: Bool)
    case llamaCppNeedsGGUF(String)
    case llamaCppNeedsText
    case llamaCppToolMissing(String)
    case llamaCppFailed(tool: String, status: Int32, log: String)
    case llamaCppOutput(String, String)

    // Export
    /// Tensors whose storage GGUF has no type for, under `--exact`.
    case noGGUFType([String])
    /// A tokenizer that cannot be written in the target's form (the file and field named).
    case tokenizerExport(String)
    /// A broken invariant of the export itself (a bug, not bad input).
    case `internal`(String)

    // Chat
    case turnTooLong(tokens: Int, context: Int)

    public var description: String {
        switch self {
        case .badRule(let s): return "rule \"\(s)\" is not REGEX=TYPE"
        case .badPattern(let p, let e): return "rule pattern \"\(p)\" is not a valid regular expression: \(e)"
        case .unknownType(let t): return "unknown quantization type \(t); presets: \(Recipe.presetNames.joined(separator: ", ")), and per-rule types \(PipelineError.ruleTypes)"
        case .unknownRung(let s):
            return "--types: \"\(s)\" is not a ladder of presets; give a comma-separated list of \(Recipe.presetNames.joined(separator: ", ")), each optionally with +imatrix"
        case .duplicateRung(let s): return "--types lists \(s) twice"
        case .tooFewTokens(let n, let ctx, let heldOut):
            return "\(n) evaluation tokens\(heldOut ? " (the first half, the second calibrates the importance matrix)" : "") do not fill one chunk of \(ctx): give more text (--text) or a smaller --ctx"
        case .llamaCppNeedsGGUF(let s):
            return "--compare-llamacpp needs a GGUF source (llama.cpp makes its f32 base from it, and Tramontane writes no GGUF); \(s) is not one: convert the checkpoint to GGUF with llama.cpp's convert_hf_to_gguf.py and give that"
        case .llamaCppNeedsText:
            return "--compare-llamacpp needs the evaluation as text (llama-perplexity tokenizes it itself): give --text FILE or the default text, not --tokens"
        case .llamaCppToolMissing(let t):
            return "\(t) is missing or not executable: --compare-llamacpp wants the folder holding llama.cpp's llama-quantize and llama-perplexity (its build/bin)"
        case .llamaCppFailed(let tool, let status, let log):
            return "\(tool) failed (exit status \(status)); its output is in \(log)"
        case .llamaCppOutput(let log, let what):
            return "\(log): found no \(what) in llama.cpp's output"
        case .noGGUFType(let names):
            let listed = names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", and \(names.count - 8) more" : "")
            return "\(names.count) tensor(s) end their rows in tail blocks, which GGUF has no type for: \(listed); without --exact they are re-encoded to the type llama.cpp falls back to (q4_k → q5_0, q5_k → q5_1, q6_k → q8_0, q3_k/q2_k → q4_0, iq4_xs → iq4_nl)"
        case .tokenizerExport(let s): return s
        case .internal(let s): return "internal error: \(s)"
        case .turnTooLong(let n, let ctx):
            return "this turn is \(n) tokens, more than the context of \(ctx): give a shorter message or a larger --ctx"
        }
    }

    /// The types a rule may name: the float types, then every block format.
    static var ruleTypes: String {
        let blocks: [String] = BlockFormats.all.map { f in f.dtype.rawValue }
        return (["f32", "f16", "bf16"] + blocks).joined(separator: ", ")
    }
}
