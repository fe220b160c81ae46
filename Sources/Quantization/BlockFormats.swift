import TensorCore

/// The block formats, one row per format (ggml's `type_traits` table): each type's storage
/// facts are its `DType.traits` row, its kernels are its `BlockFormat` type in `Formats/`.
package enum BlockFormats {
    /// Every block format this build has.
    package static let all: [any BlockFormat.Type] = [
        BlockQ8_0.self, BlockQ6_K.self, BlockQ5_1.self, BlockQ5_0.self, BlockQ5_K.self, BlockQ4_K.self, BlockQ4_1.self,
        BlockQ4_0.self, BlockQ3_K.self, BlockQ2_K.self, BlockIQ4_NL.self, BlockIQ4_XS.self,
    ]

    /// The format that stores `dtype`, nil for float and integer types. A switch, exhaustive over
    /// `DType` (a dictionary lookup hashes the key, which cost more than decoding a row of a
    /// small matrix).
    @inline(__always) package static func format(_ dtype: DType) -> (any BlockFormat.Type)? {
        switch dtype {
        case .q4_0: return BlockQ4_0.self
        case .q4_1: return BlockQ4_1.self
        case .q5_0: return BlockQ5_0.self
        case .q5_1: return BlockQ5_1.self
        case .q8_0: return BlockQ8_0.self
        case .q4_k: return BlockQ4_K.self
        case .q6_k: return BlockQ6_K.self
        case .q5_k: return BlockQ5_K.self
        case .q3_k: return BlockQ3_K.self
        case .q2_k: return BlockQ2_K.self
        case .iq4_nl: return BlockIQ4_NL.self
        case .iq4_xs: return BlockIQ4_XS.self
        case .f64, .f32, .f16, .bf16, .i64, .i32, .i16, .i8, .u8, .bool: return nil
        }
    }
}
