/// The element types Tramontane reads and writes.
///
/// Float and integer types have one element per "block"; block formats pack `blockSize`
/// weights into `blockBytes` bytes. Every fact about a type's storage is in its `Traits` row
/// (`traits`, one exhaustive switch): the kernels for a block format are in
/// `Quantization/Formats`, listed by `Quantization.BlockFormats`. The raw values are the
/// names in the `.tmt` directory.
public enum DType: String, CaseIterable, Sendable, Codable {
    case f64, f32, f16, bf16
    case i64, i32, i16, i8, u8, bool
    case q4_0, q4_1, q5_0, q5_1, q8_0
    case q4_k, q6_k
    case q5_k, q3_k, q2_k
    case iq4_nl, iq4_xs

    /// One row of the type table: how the type is stored, and what ggml calls it.
    public struct Traits: Sendable {
        /// Weights per block (1 for plain element types).
        public let blockSize: Int
        /// Bytes per block (the element size for plain types); block layouts as in ggml-common.h.
        public let blockBytes: Int
        /// For a 256-weight super-block format: the 32-weight format that ends a row whose
        /// length is not a multiple of 256 (see formats/quant-formats.md). Such rows are
        /// Tramontane's own storage, not ggml's.
        public let tailType: DType?
        /// ggml's `enum ggml_type` value (GGUF tensor type), if ggml has the type.
        public let ggmlType: UInt32?

        @inlinable init(blockSize: Int, blockBytes: Int, tailType: DType?, ggmlType: UInt32?) {
            self.blockSize = blockSize
            self.blockBytes = blockBytes
            self.tailType = tailType
            self.ggmlType = ggmlType
        }
    }

    @inlinable public var traits: Traits {
        switch self {
        case .f64: return Traits(blockSize: 1, blockBytes: 8, tailType: nil, ggmlType: 28)
        case .f32: return Traits(blockSize: 1, blockBytes: 4, tailType: nil, ggmlType: 0)
        case .f16: return Traits(blockSize: 1, blockBytes: 2, tailType: nil, ggmlType: 1)
        case .bf16: return Traits(blockSize: 1, blockBytes: 2, tailType: nil, ggmlType: 30)
        case .i64: return Traits(blockSize: 1, blockBytes: 8, tailType: nil, ggmlType: 27)
        case .i32: return Traits(blockSize: 1, blockBytes: 4, tailType: nil, ggmlType: 26)
        case .i16: return Traits(blockSize: 1, blockBytes: 2, tailType: nil, ggmlType: 25)
        case .i8: return Traits(blockSize: 1, blockBytes: 1, tailType: nil, ggmlType: 24)
        case .u8, .bool: return Traits(blockSize: 1, blockBytes: 1, tailType: nil, ggmlType: nil)
        case .q4_0: return Traits(blockSize: 32, blockBytes: 18, tailType: nil, ggmlType: 2)
        case .q4_1: return Traits(blockSize: 32, blockBytes: 20, tailType: nil, ggmlType: 3)
        case .q5_0: return Traits(blockSize: 32, blockBytes: 22, tailType: nil, ggmlType: 6)
        case .q5_1: return Traits(blockSize: 32, blockBytes: 24, tailType: nil, ggmlType: 7)
        case .q8_0: return Traits(blockSize: 32, blockBytes: 34, tailType: nil, ggmlType: 8)
        case .q4_k: return Traits(blockSize: 256, blockBytes: 144, tailType: .q4_1, ggmlType: 12)
        case .q6_k: return Traits(blockSize: 256, blockBytes: 210, tailType: .q8_0, ggmlType: 14)
        case .q5_k: return Traits(blockSize: 256, blockBytes: 176, tailType: .q5_1, ggmlType: 13)
        case .q3_k: return Traits(blockSize: 256, blockBytes: 110, tailType: .q4_0, ggmlType: 11)
        case .q2_k: return Traits(blockSize: 256, blockBytes: 84, tailType: .q4_0, ggmlType: 10)
        case .iq4_nl: return Traits(blockSize: 32, blockBytes: 18, tailType: nil, ggmlType: 20)
        case .iq4_xs: return Traits(blockSize: 256, blockBytes: 136, tailType: .iq4_nl, ggmlType: 23)
        }
    }

    /// The type ggml numbers `id` (a GGUF tensor's type), if Tramontane has it.
    public init?(ggmlType id: UInt32) {
        guard let t = DType.allCases.first(where: { $0.traits.ggmlType == id }) else { return nil }
        self = t
    }

    /// Weights per block (1 for plain element types).
    @inlinable public var blockSize: Int { traits.blockSize }
    /// Bytes per block (the element size for plain types).
    @inlinable public var blockBytes: Int { traits.blockBytes }
    /// The 32-weight format that ends rows that are not a multiple of the super-block.
    @inlinable public var tailType: DType? { traits.tailType }

    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }
    public var isBlockQuantized: Bool { blockSize > 1 }

    /// Bits per weight of the format itself.
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockSize) }

    /// Whether rows of `columns` end in tail blocks (`tailType`): storage ggml has no type for.
    public func hasTailBlocks(columns: Int) -> Bool { tailType != nil && columns % blockSize != 0 }

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
