import TensorCore

/// One ggml block format: a fixed number of weights packed into a fixed number of bytes.
/// Each format is one type in `Formats/`; adding a format touches that file and `Dequantize.format`.
public protocol BlockFormat {
    static var dtype: DType { get }
    /// Decodes one block (`dtype.blockBytes` bytes) into `dtype.blockSize` floats.
    static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>)
    /// The error-minimising quantizer: levels and scales chosen by least-squares search,
    /// weighting each weight's squared error by `weights` (an importance matrix row) if given.
    static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer)
    /// ggml's reference quantizer (`quantize_row_*_ref`), bit for bit where the format has one.
    static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer)
}

/// A format whose search runs on 8 consecutive blocks at once (`ScaleSearch8`).
public protocol EightBlockSearch: BlockFormat {
    /// The search of `quantize` for 8 consecutive blocks, each weight's error weighed by
    /// `importance` (from the first of these columns on).
    static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer)
}

extension BlockFormat {
    /// Squared error of a quantized block against `x`, weighted.
    static func blockError(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, block: UnsafeRawPointer) -> Float {
        let n = dtype.blockSize
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { y in
            dequantize(block: block, into: y.baseAddress!)
            // 8 lanes at a time (every block size is a multiple of 8).
            var e = SIMD8<Float>()
            for k in stride(from: 0, to: n, by: 8) {
                let d = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self) - UnsafeRawPointer(y.baseAddress! + k).loadUnaligned(as: SIMD8<Float>.self)
                let w = weights.map { UnsafeRawPointer($0 + k).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8(repeating: 1)
                e += w * d * d
            }
            return e.total
        }
    }

    /// Runs the search quantizer and the reference and keeps whichever block has the lower
    /// weighted error, so the default mode is never worse than ggml's on any block.
    static func quantizeBest(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer,
                             search: (UnsafeMutableRawPointer) -> Void) {
        let bytes = dtype.blockBytes
        withUnsafeTemporaryAllocation(byteCount: bytes * 2, alignment: 16) { tmp in
            let a = tmp.baseAddress!, b = a + bytes
            search(a)
            quantizeReference(x, into: b)
            let ea = blockError(x, weights: weights, block: a), eb = blockError(x, weights: weights, block: b)
            block.copyMemory(from: ea <= eb ? a : b, byteCount: bytes)
        }
    }
}

@inline(__always)
func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

@inline(__always)
func storeHalf(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: Float) {
    p.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self)
}

public enum Dequantize {
    /// The block formats this build can decode and encode, by a switch (a dictionary lookup
    /// hashes the key, which cost more than decoding a row of a small matrix).
    @inline(__always) public static func format(_ dtype: DType) -> (any BlockFormat.Type)? {
        switch dtype {
        case .q4_0: return BlockQ4_0.self
        case .q4_1: return BlockQ4_1.self
        case .q5_0: return BlockQ5_0.self
        case .q5_1: return BlockQ5_1.self
        case .q8_0: return BlockQ8_0.self
        case .q4_k: return BlockQ4_K.self
        case .q6_k: return BlockQ6_K.self
        default: return nil
        }
    }

    /// Decodes `out.count` weights of any readable dtype (float, integer or block) into Floats.
    /// `columns` is the row length (default: one row); k-quant rows may end in tail blocks.
    public static func toFloat(_ src: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>, columns: Int? = nil) throws(TensorError) {
        guard dtype.isBlockQuantized else {
            try FloatConversion.toFloat(src, dtype: dtype, into: out)
            return
        }
        guard let format = Dequantize.format(dtype) else {
            throw .unsupported("dequantizing \(dtype.rawValue) is not implemented")
        }
        let n = columns ?? out.count
        guard n > 0 else { return }
        guard out.count % n == 0 else { throw .invalidShape("\(out.count) weights are not whole rows of \(n)") }
        let rowBytes = try dtype.rowBytes(n)
        let rows = out.count / n
        guard src.count >= rows * rowBytes else { throw .invalidShape("\(dtype.rawValue): \(src.count) bytes for \(rows) rows of \(n), need \(rows * rowBytes)") }
        guard let s = src.baseAddress, let o = out.baseAddress else { return }
        let main = n / dtype.blockSize
        let tail = dtype.tailType.flatMap { Dequantize.format($0) }
        for r in 0..<rows {
            var p = s + r * rowBytes
            var y = o + r * n
            for _ in 0..<main {
                format.dequantize(block: p, into: y)
                p += dtype.blockBytes
                y += dtype.blockSize
            }
            if let tail, main * dtype.blockSize < n {
                for _ in 0..<((n - main * dtype.blockSize) / tail.dtype.blockSize) {
                    tail.dequantize(block: p, into: y)
                    p += tail.dtype.blockBytes
                    y += tail.dtype.blockSize
                }
            }
        }
    }
}
