import Crypto
import Quantization
import TensorCore

/// Tensor values as Float, whatever the stored dtype, processed in slices of whole rows so
/// memory stays bounded for any tensor size.
public enum TensorValues {
    /// Calls `body` with consecutive slices of the tensor's values as Float (rows kept whole).
    public static func forEachSlice(_ t: SourceTensor, bytes: ByteRegion, maxElements: Int = 1 << 22,
                                    _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        let n = t.elementCount
        guard n > 0 else { return }
        let row = max(t.shape.last ?? 1, 1)
        let rowsPerSlice = max(1, maxElements / row)
        let sliceElements = rowsPerSlice * row
        var buffer = [Float](repeating: 0, count: min(n, sliceElements))
        var start = 0
        while start < n {
            let count = min(sliceElements, n - start)
            let byteStart = (start / row) * (try t.dtype.rowBytes(row))
            let byteCount = (count / row) * (try t.dtype.rowBytes(row))
            try buffer.withUnsafeMutableBufferPointer { out in
                let dst = UnsafeMutableBufferPointer(rebasing: out[0..<count])
                try Dequantize.toFloat(UnsafeRawBufferPointer(rebasing: bytes.bytes[byteStart..<(byteStart + byteCount)]), dtype: t.dtype, into: dst, columns: row)
                try body(UnsafeBufferPointer(dst))
            }
            start += count
        }
    }

    /// SHA-256 of the values written as little-endian float32: equal numbers give equal hashes
    /// whatever the file format or dtype they are stored in.
    public static func sha256(_ t: SourceTensor) throws -> String {
        let bytes = try t.load()
        var h = SHA256()
        try forEachSlice(t, bytes: bytes) { values in
            h.update(bufferPointer: UnsafeRawBufferPointer(values))  // x86-64 and arm64 are little-endian
        }
        bytes.dropPages()
        return h.finalize().map { String(format2: $0) }.joined()
    }

    /// SHA-256 of a file's bytes.
    public static func sha256(file path: String) throws -> String {
        let f = try MappedFile(path: path)
        f.adviseSequential()
        var h = SHA256()
        let window = 64 << 20
        var offset = 0
        while offset < f.size {
            let n = min(window, f.size - offset)
            h.update(bufferPointer: UnsafeRawBufferPointer(rebasing: f.bytes[offset..<(offset + n)]))
            f.dropPages(offset: offset, count: n)
            offset += n
        }
        return h.finalize().map { String(format2: $0) }.joined()
    }
}

extension String {
    /// Two lowercase hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
