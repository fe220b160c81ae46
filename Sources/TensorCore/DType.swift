/// The element types Tramontane reads and writes.
///
/// Float and integer types have one element per "block"; ggml's block-quantized types pack
/// `blockSize` weights into `blockBytes` bytes. The raw values match nothing in particular:
/// every on-disk format maps its own codes in its reader (see `formats/`).
public enum DType: String, CaseIterable, Sendable, Codable {
    case f64, f32, f16, bf16
    case i64, i32, i16, i8, u8, bool
    case q4_0, q4_1, q5_0, q5_1, q8_0, q8_1
    case q2_k, q3_k, q4_k, q5_k, q6_k, q8_k

    /// Weights per block (1 for plain element types).
    public var blockSize: Int {
        switch self {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: return 32
        case .q2_k, .q3_k, .q4_k, .q5_k, .q6_k, .q8_k: return 256
        default: return 1
        }
    }

    /// Bytes per block (the element size for plain types). Layouts as in ggml-common.h.
    public var blockBytes: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q8_1: return 36
        case .q2_k: return 84
        case .q3_k: return 110
        case .q4_k: return 144
        case .q5_k: return 176
        case .q6_k: return 210
        case .q8_k: return 292
        }
    }

    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }
    public var isBlockQuantized: Bool { blockSize > 1 }

    /// Bits per weight of the format itself.
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockSize) }

    /// Rows whose length is not a multiple of a k-quant's 256 end in blocks of this 32-weight
    /// format instead (see formats/quant-formats.md): the main part stays byte-compatible with
    /// ggml, and a 576-wide row (SmolLM2) still gets k-quant-class storage.
    public var tailType: DType? {
        switch self {
        case .q4_k: return .q4_1
        case .q5_k: return .q5_1
        case .q6_k: return .q8_0
        default: return nil
        }
    }

    /// Bytes one row of `columns` weights takes.
    public func rowBytes(_ columns: Int) throws(TensorError) -> Int {
        guard columns >= 0 else { throw .invalidShape("negative row length \(columns)") }
        if columns % blockSize != 0 {
            guard let tail = tailType, columns % tail.blockSize == 0 else {
                throw .invalidShape("row of \(columns) is not a whole number of \(rawValue) blocks of \(blockSize)")
            }
            let tailBlocks = (columns % blockSize) / tail.blockSize
            let (main, o1) = (columns / blockSize).multipliedReportingOverflow(by: blockBytes)
            guard !o1 else { throw .invalidShape("byte count of a \(columns)-wide \(rawValue) row overflows") }
            return main + tailBlocks * tail.blockBytes
        }
        let (bytes, overflow) = (columns / blockSize).multipliedReportingOverflow(by: blockBytes)
        guard !overflow else { throw .invalidShape("byte count of \(columns) \(rawValue) elements overflows") }
        return bytes
    }

    /// Bytes a tensor of this shape takes (rows along the innermost dimension).
    public func byteCount(shape: [Int]) throws(TensorError) -> Int {
        let count = try elementCount(shape)
        guard let columns = shape.last else { return try rowBytes(1) }
        if columns == 0 || count == 0 { return 0 }
        let rows = count / columns
        let (bytes, overflow) = rows.multipliedReportingOverflow(by: try rowBytes(columns))
        guard !overflow else { throw .invalidShape("byte count of \(rawValue)\(shape) overflows") }
        return bytes
    }

    /// Bytes that `elements` weights take as one row.
    public func byteCount(elements: Int) throws(TensorError) -> Int {
        try rowBytes(elements)
    }
}
