import TensorCore

/// Stored rows of any readable dtype decoded to f32.
package enum Dequantize {
    /// Decodes `out.count` weights of any readable dtype (float, integer or block) into Floats.
    /// `columns` is the row length (default: one row); k-quant rows may end in tail blocks.
    package static func toFloat(_ src: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>, columns: Int? = nil) throws(TensorError) {
        guard dtype.isBlockQuantized else {
            try FloatConversion.toFloat(src, dtype: dtype, into: out)
            return
        }
        guard let format = BlockFormats.format(dtype) else {
            throw .unsupported("dequantizing \(dtype.rawValue) is not implemented")
        }
        let n = columns ?? out.count
        guard n > 0 else { return }
        guard out.count % n == 0 else { throw .invalidShape("\(out.count) weights are not whole rows of \(n)") }
        let rowBytes = try dtype.rowBytes(n)
        let rows = out.count / n
        guard src.count >= rows * rowBytes else { throw .invalidShape("\(dtype.rawValue): \(src.count) bytes for \(rows) rows of \(n), need \(rows * rowBytes)") }
        guard let s = src.baseAddress, let o = out.baseAddress else { return }
        for r in 0..<rows { format.decodeRow(s + r * rowBytes, n, into: o + r * n) }
    }
}
