import TensorCore

/// One ggml block format: a fixed number of weights packed into a fixed number of bytes.
/// Each format is one type in `Formats/`; adding a format touches that file and `registry`.
public protocol BlockFormat {
    static var dtype: DType { get }
    /// Decodes one block (`dtype.blockBytes` bytes) into `dtype.blockSize` floats.
    static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>)
}

extension BlockFormat {
    /// Decodes whole rows of blocks.
    static func dequantizeBlocks(_ src: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        guard let s = src.baseAddress, let o = out.baseAddress else { return }
        let blocks = out.count / dtype.blockSize
        for b in 0..<blocks {
            dequantize(block: s + b * dtype.blockBytes, into: o + b * dtype.blockSize)
        }
    }
}

/// Loads a little-endian IEEE half at `offset` as Float.
@inline(__always)
func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

public enum Dequantize {
    /// The block formats this build can decode.
    public static let registry: [DType: any BlockFormat.Type] = [
        .q4_0: BlockQ4_0.self, .q4_1: BlockQ4_1.self,
        .q5_0: BlockQ5_0.self, .q5_1: BlockQ5_1.self,
        .q8_0: BlockQ8_0.self,
        .q4_k: BlockQ4_K.self, .q6_k: BlockQ6_K.self,
    ]

    /// Decodes `out.count` weights of any readable dtype (float, integer or block) into Floats.
    public static func toFloat(_ src: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>) throws(TensorError) {
        guard dtype.isBlockQuantized else {
            try FloatConversion.toFloat(src, dtype: dtype, into: out)
            return
        }
        guard let format = registry[dtype] else {
            throw .unsupported("dequantizing \(dtype.rawValue) is not implemented")
        }
        let needed = try dtype.byteCount(elements: out.count)
        guard src.count >= needed else { throw .invalidShape("\(dtype.rawValue): \(src.count) bytes for \(out.count) weights, need \(needed)") }
        format.dequantizeBlocks(src, into: out)
    }
}
