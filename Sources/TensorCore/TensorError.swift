/// Errors about tensors themselves, independent of the file they came from.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    case invalidShape(String)
    case unsupported(String)
    case valueOutOfRange(tensor: String, value: Float, target: DType)
    /// A NaN or infinity where a quantizer needs finite values (`index`: flat position).
    case nonFinite(tensor: String, index: Int, value: Float)

    public var description: String {
        switch self {
        case .invalidShape(let s): return "invalid shape: \(s)"
        case .unsupported(let s): return "unsupported: \(s)"
        case .nonFinite(let t, let i, let v):
            return "tensor \(t.isEmpty ? "?" : t): value \(v) at index \(i) cannot be quantized (the source holds a NaN or infinity)"
        case .valueOutOfRange(let t, let v, let d):
            return "tensor \(t): value \(v) does not fit in \(d.rawValue) (it would overflow to infinity); keep the source dtype or use f32/bf16"
        }
    }
}
