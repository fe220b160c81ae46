import TensorCore

/// What can be wrong with a `.tmt` file, with enough detail to find the damage.
public enum TMTError: Error, Equatable, CustomStringConvertible {
    case notATMTFile(path: String)
    case newerVersion(path: String, version: UInt32)
    case corruptHeader(path: String, offset: Int, detail: String)
    case truncated(path: String, detail: String)
    case trailingBytes(path: String, expected: UInt64, actual: Int)
    case corruptTrailer(path: String, detail: String)
    case corruptDirectory(path: String, detail: String)
    case invalidEntry(path: String, item: String, detail: String)
    case checksumMismatch(path: String, item: String, chunk: Int, offset: Int)
    case decodedChecksumMismatch(path: String, item: String)
    case nonZeroPadding(path: String, offset: Int)
    case codec(item: String, chunk: Int, detail: String)
    case noSuchItem(String)

    public var description: String {
        switch self {
        case .notATMTFile(let p): return "\(p): not a .tmt file (bad magic)"
        case .newerVersion(let p, let v): return "\(p): written by a newer Tramontane (format version \(v); this build reads version \(TMTLayout.version)). Upgrade tramontane."
        case .corruptHeader(let p, let o, let d): return "\(p): corrupt header at byte \(o): \(d)"
        case .truncated(let p, let d): return "\(p): truncated (\(d)); the file was cut short or never finished"
        case .trailingBytes(let p, let e, let a): return "\(p): file is \(a) bytes but its trailer says \(e): extra bytes were appended"
        case .corruptTrailer(let p, let d): return "\(p): corrupt trailer: \(d)"
        case .corruptDirectory(let p, let d): return "\(p): corrupt directory: \(d)"
        case .invalidEntry(let p, let i, let d): return "\(p): entry \(i): \(d)"
        case .checksumMismatch(let p, let i, let c, let o): return "\(p): \(i): chunk \(c) at offset \(o) is damaged (checksum mismatch)"
        case .decodedChecksumMismatch(let p, let i): return "\(p): \(i): decoded data does not match its checksum"
        case .nonZeroPadding(let p, let o): return "\(p): padding byte at offset \(o) is not zero (damaged between items)"
        case .codec(let i, let c, let d): return "\(i): chunk \(c): \(d)"
        case .noSuchItem(let n): return "no item named \(n)"
        }
    }
}
