/// Errors about tensors themselves, independent of the file they came from.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    case invalidShape(String)
    case unsupported(String)
    case valueOutOfRange(tensor: String, value: Float, target: DType)

    public var description: String {
        switch self {
        case .invalidShape(let s): return "invalid shape: \(s)"
        case .unsupported(let s): return "unsupported: \(s)"
        case .valueOutOfRange(let t, let v, let d):
            return "tensor \(t): value \(v) does not fit in \(d.rawValue) (it would overflow to infinity); keep the source dtype or use f32/bf16"
        }
    }
}
