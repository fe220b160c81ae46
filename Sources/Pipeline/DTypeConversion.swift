import Quantization
import TensorCore

/// Re-encodes a tensor's values in another float dtype (f32, f16, bf16), dequantizing block
/// formats on the way. Refuses values that would overflow the target, naming the tensor.
public enum DTypeConversion {
    public static func convert(_ t: SourceTensor, bytes: ByteRegion, to target: DType, threads: Int) throws -> ByteRegion {
        if target == t.dtype { return bytes }
        guard target == .f32 || target == .f16 || target == .bf16 else {
            throw TensorError.unsupported("converting to \(target.rawValue): use `tramontane quantize` for block formats")
        }
        let n = t.elementCount
        let row = max(t.shape.last ?? 1, 1)
        let rows = n / row
        let rowsPerSlice = max(1, (1 << 20) / row)
        let slices = (rows + rowsPerSlice - 1) / rowsPerSlice
        let outBytes = try target.byteCount(shape: t.shape)
        let inRowBytes = try t.dtype.rowBytes(row)
        let outRowBytes = try target.rowBytes(row)
        return try ByteRegion.allocate(count: outBytes) { dst in
            try parallelFor(slices, threads: threads) { s, _ in
                let r0 = s * rowsPerSlice, r1 = min(rows, r0 + rowsPerSlice)
                let count = (r1 - r0) * row
                var values = [Float](repeating: 0, count: count)
                try values.withUnsafeMutableBufferPointer { v in
                    try Dequantize.toFloat(UnsafeRawBufferPointer(rebasing: bytes.bytes[(r0 * inRowBytes)..<(r1 * inRowBytes)]), dtype: t.dtype, into: v, columns: row)
                    try FloatConversion.fromFloat(UnsafeBufferPointer(v), to: target,
                                                  into: UnsafeMutableRawBufferPointer(rebasing: dst[(r0 * outRowBytes)..<(r1 * outRowBytes)]), tensor: t.name)
                }
            }
        }
    }
}
