import Crypto
import Quantization
import TensorCore

/// Hashes of tensor values and of files.
package enum TensorValues {
    /// SHA-256 of the values written as little-endian float32: equal numbers give equal hashes
    /// whatever the file format or dtype they are stored in. The values are read as the
    /// conversion engine reads them: in its slices of whole rows (`TensorBatch`), decoded to f32
    /// through one recycled buffer, so memory stays bounded for any tensor size.
    /// `pool`: where decoded values live, recycled across the tensors of one inspection.
    package static func sha256(_ t: SourceTensor, pool: BufferPool = BufferPool(keep: 1), threads: Int = 1) throws -> String {
        let bytes = try t.load()
        var h = SHA256()
        for batch in try TensorBatch.batches([TensorEngine.Step(tensor: t, encoding: .encode(.f32))]) {
            let (values, decoded) = try batch.values(sources: batch.pieces.map { _ in bytes }, threads: threads, pool: pool)
            for v in values { h.update(bufferPointer: UnsafeRawBufferPointer(v)) }  // x86-64 and arm64 are little-endian
            withExtendedLifetime(decoded) {}
        }
        bytes.dropPages()
        return h.finalize().map { String(format2: $0) }.joined()
    }

    /// SHA-256 of a file's bytes.
    package static func sha256(file path: String) throws -> String {
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
