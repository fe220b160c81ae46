/// Why an export was refused.
public enum ExportError: Error, CustomStringConvertible {
    /// Tensors whose storage GGUF has no type for, under `--exact`.
    case noGGUFType([String])
    /// A broken invariant of the export itself (a bug, not bad input).
    case `internal`(String)

    public var description: String {
        switch self {
        case .noGGUFType(let names):
            let listed = names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", and \(names.count - 8) more" : "")
            return "\(names.count) tensor(s) end their rows in tail blocks, which GGUF has no type for: \(listed); without --exact they are re-encoded to the type llama.cpp falls back to (q4_k → q5_0, q5_k → q5_1, q6_k → q8_0, q3_k/q2_k → q4_0, iq4_xs → iq4_nl)"
        case .internal(let s): return "internal error: \(s)"
        }
    }
}
