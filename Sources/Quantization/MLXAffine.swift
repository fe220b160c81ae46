import TensorCore

/// MLX's affine quantization (`mx.quantize`, mode `affine`) as mlx-lm stores a linear layer:
/// `weight` uint32 words, each holding 32/bits consecutive values of a row from the low bits up;
/// `scales` and `biases`, one per group of `groupSize` values; w = scale·q + bias.
///
/// Three ggml formats are exactly such groups of 32, so their blocks map without requantizing:
/// Q4_1 (q in 0…15, w = d·q + m: scale d, bias m), Q4_0 (w = d·(q − 8): scale d, bias −8d) and
/// Q8_0 (w = d·q, q in −128…127, stored as q + 128: scale d, bias −128d). d and m are f16 in
/// ggml; −8d and −128d are f16 too (a power-of-two multiple) unless they overflow f16's range,
/// and every product d·q and its sum with the bias is exact in f32, so MLX's dequantization
/// gives ggml's values bit for bit (see formats/export.md).
///
/// Q4_K is such groups too (sub-block j of 32: w = (d·sc_j)·q − dmin·m_j, with 6-bit sc_j and
/// m_j), but its scale d·sc_j needs 17 significant bits: exact as an f32 scale, not as f16. Its
/// rows' Q4_1 tail blocks map as Q4_1 does.
package enum MLXAffine {
    package static let groupSize = 32

    /// The MLX bits of a format that maps exactly with scales of type `scales` (f16 or f32),
    /// nil for the others.
    package static func exactBits(_ dtype: DType, scales: DType = .f16) -> Int? {
        switch dtype {
        case .q4_0, .q4_1: return 4
        case .q8_0: return 8
        case .q4_k: return scales == .f32 ? 4 : nil
        case .f64, .f32, .f16, .bf16, .i64, .i32, .i16, .i8, .u8, .bool,
             .q5_0, .q5_1, .q5_k, .q6_k, .q3_k, .q2_k, .iq4_nl, .iq4_xs: return nil
        }
    }

    /// The exactly-mapping format a block format with no MLX form of its own is requantized to
    /// (by that format's search quantizer): never fewer bits than the source has.
    package static func requantizationTarget(_ dtype: DType) -> DType? {
        switch dtype {
        case .q4_k, .q3_k, .q2_k, .iq4_nl, .iq4_xs: return .q4_1
        case .q5_0, .q5_1, .q5_k, .q6_k: return .q8_0
        case .f64, .f32, .f16, .bf16, .i64, .i32, .i16, .i8, .u8, .bool, .q4_0, .q4_1, .q8_0: return nil
        }
    }

    /// Converts one row of `columns` weights stored as `dtype` (Q4_0, Q4_1, Q8_0, or Q4_K with
    /// its tail blocks) into `columns·bits/32` words and `columns/32` scales and biases.
    package static func convertRow(_ row: UnsafeRawPointer, dtype: DType, columns: Int, words: UnsafeMutablePointer<UInt32>,
                                  scales: UnsafeMutablePointer<Float>, biases: UnsafeMutablePointer<Float>) {
        if dtype == .q4_k {
            let superBlocks = columns / 256
            for s in 0..<superBlocks {
                let block = row + s * dtype.blockBytes
                let d = half(block, 0), dmin = half(block, 2)
                for j in 0..<8 {
                    let (sc, m) = BlockQ4_K.scaleMin(j, block + 4)
                    // ggml: 32 bytes per pair of sub-blocks, sub-block 2c in the low nibbles, 2c + 1 in the high.
                    let qs = block + 16 + 32 * (j / 2)
                    let shift: UInt32 = j % 2 == 0 ? 0 : 4
                    let g = s * 8 + j
                    for w in 0..<4 {
                        var word: UInt32 = 0
                        for k in 0..<8 { word |= ((UInt32(qs.load(fromByteOffset: 8 * w + k, as: UInt8.self)) >> shift) & 15) << (4 * k) }
                        words[g * 4 + w] = word
                    }
                    scales[g] = d * Float(sc)
                    biases[g] = -(dmin * Float(m))
                }
            }
            let done = superBlocks * 8
            convertRow(row + superBlocks * dtype.blockBytes, dtype: .q4_1, columns: columns - superBlocks * 256,
                       words: words + done * 4, scales: scales + done, biases: biases + done)
            return
        }
        let blocks = columns / groupSize
        for b in 0..<blocks {
            let block = row + b * dtype.blockBytes
            let d = half(block, 0)
            switch dtype {
            case .q4_1, .q4_0:
                // ggml: byte j holds value j (low nibble) and value j + 16 (high nibble).
                let qs = block + (dtype == .q4_1 ? 4 : 2)
                func q(_ j: Int) -> UInt32 {
                    let byte = UInt32(qs.load(fromByteOffset: j & 15, as: UInt8.self))
                    return j < 16 ? byte & 15 : byte >> 4
                }
                for w in 0..<4 {
                    var word: UInt32 = 0
                    for k in 0..<8 { word |= q(8 * w + k) << (4 * k) }
                    words[b * 4 + w] = word
                }
                scales[b] = d
                biases[b] = dtype == .q4_1 ? half(block, 2) : -8 * d
            default:
                // Q8_0: signed q + 128 is the bit pattern with the top bit flipped.
                for w in 0..<8 {
                    var word: UInt32 = 0
                    for k in 0..<4 { word |= UInt32(block.load(fromByteOffset: 2 + 4 * w + k, as: UInt8.self) ^ 0x80) << (8 * k) }
                    words[b * 8 + w] = word
                }
                scales[b] = d
                biases[b] = -128 * d
            }
        }
    }

    /// MLX's dequantization of one row (what `mx.dequantize` computes): w = scale·q + bias.
    package static func dequantizeRow(words: UnsafePointer<UInt32>, scales: UnsafePointer<Float>, biases: UnsafePointer<Float>,
                                     bits: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        let perWord = 32 / bits, mask: UInt32 = (1 << UInt32(bits)) - 1
        for i in 0..<columns {
            let q = (words[i / perWord] >> UInt32(bits * (i % perWord))) & mask
            out[i] = scales[i / groupSize] * Float(q) + biases[i / groupSize]
        }
    }

    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
    }
}
