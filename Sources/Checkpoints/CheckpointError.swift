import TensorCore

/// Why a checkpoint cannot be read, naming the file, the tensor and the byte offset.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case unrecognizedFormat(path: String, detail: String)
    case truncated(path: String, detail: String)
    case invalidHeader(path: String, detail: String)
    case invalidTensor(path: String, tensor: String, detail: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case duplicateTensor(name: String, files: [String])
    case forbiddenPickleGlobal(path: String, global: String)
    case invalidPickle(path: String, offset: Int, detail: String)
    case invalidZip(path: String, detail: String)
    case missingFile(path: String, detail: String)
    case invalidConfig(path: String, detail: String)
    case unknownTensors(layout: String, names: [String])
    /// The first missing names, and how many are missing when that is more than are listed.
    case missingTensors([String], total: Int? = nil)
    case layout(String)

    public var description: String {
        switch self {
        case .unrecognizedFormat(let p, let d): return "\(p): not a checkpoint Tramontane can read (\(d))"
        case .truncated(let p, let d): return "\(p): truncated: \(d)"
        case .invalidHeader(let p, let d): return "\(p): invalid header: \(d)"
        case .invalidTensor(let p, let t, let d): return "\(p): tensor \(t): \(d)"
        case .unsupportedDType(let p, let t, let d): return "\(p): tensor \(t): unsupported dtype \(d)"
        case .duplicateTensor(let n, let f): return "tensor \(n) appears more than once (\(f.joined(separator: ", ")))"
        case .forbiddenPickleGlobal(let p, let g): return "\(p): refusing pickle global \(g): only torch tensor and storage rebuilders are allowed (nothing in the pickle is ever executed)"
        case .invalidPickle(let p, let o, let d): return "\(p): invalid pickle at byte \(o): \(d)"
        case .invalidZip(let p, let d): return "\(p): invalid zip archive: \(d)"
        case .missingFile(let p, let d): return "\(p): \(d)"
        case .invalidConfig(let p, let d): return "\(p): invalid model configuration: \(d)"
        case .unknownTensors(let l, let n): return "tensor names not in the \(l) name map: \(n.prefix(20).joined(separator: ", "))\(n.count > 20 ? " … (\(n.count) in all)" : "")"
        case .missingTensors(let n, let total):
            let all = max(total ?? n.count, n.count)
            return "required tensors missing: \(n.prefix(30).joined(separator: ", "))\(all > min(n.count, 30) ? " … (\(all) in all)" : "")"
        case .layout(let d): return d
        }
    }
}

extension CheckpointError {
    /// Wraps a `TruncatedInput` from a `ByteReader` with the file it came from.
    static func from(_ e: TruncatedInput, path: String, what: String) -> CheckpointError {
        .truncated(path: path, detail: "\(what): \(e)")
    }
}
