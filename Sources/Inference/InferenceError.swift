/// Why a model cannot run.
public enum InferenceError: Error, Equatable, CustomStringConvertible {
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    case contextFull(position: Int, capacity: Int)
    case tokenOutOfRange(id: Int, vocabulary: Int)
    case unsupported(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let t, let e, let f): return "tensor \(t) has shape \(f), the config needs \(e)"
        case .contextFull(let p, let c): return "position \(p) is past the context of \(c) tokens (the model has no sliding window); use a larger --ctx"
        case .tokenOutOfRange(let id, let v): return "token id \(id) is outside the vocabulary of \(v)"
        case .unsupported(let s): return s
        }
    }
}
