import Checkpoints
import Quantization
import TensorCore

/// An exported tensor's stored rows in output order (HF's rotary order for q/k, one expert of a
/// stacked tensor), in batches: a tensor is loaded once and leaves as it is read, so memory
/// stays at the source tensor plus a batch whatever the model's size.
enum ExportRows {
    /// Calls `body` with consecutive batches of whole output rows, as the source dtype stores
    /// them, and the number of rows in the batch.
    static func forEachBatch(_ t: ExportTensor, maxBytes: Int = 4 << 20,
                             _ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let region = try t.source.load()
        defer { region.dropPages() }
        let rowBytes = try t.source.dtype.rowBytes(t.columns)
        let rows = t.rows
        let base = (t.expert ?? 0) * rows * rowBytes
        guard base + rows * rowBytes <= region.count else {
            throw CheckpointError.truncated(path: t.source.origin, detail: "\(t.source.name): \(region.count) bytes, \(t.name) needs \(base + rows * rowBytes)")
        }
        let perBatch = max(1, maxBytes / max(rowBytes, 1))
        try region.withBytes { src in
            guard t.permute != nil else {
                var r = 0
                while r < rows {
                    let n = min(perBatch, rows - r)
                    try body(UnsafeRawBufferPointer(rebasing: src[(base + r * rowBytes)..<(base + (r + n) * rowBytes)]), n)
                    r += n
                }
                return
            }
            var gathered = [UInt8](repeating: 0, count: min(perBatch, rows) * rowBytes)
            var r = 0
            while r < rows {
                let n = min(perBatch, rows - r)
                gathered.withUnsafeMutableBytes { dst in
                    for k in 0..<n {
                        let from = base + t.sourceRow(r + k) * rowBytes
                        UnsafeMutableRawBufferPointer(rebasing: dst[(k * rowBytes)..<((k + 1) * rowBytes)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[from..<(from + rowBytes)]))
                    }
                }
                try gathered.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<(n * rowBytes)]), n) }
                r += n
            }
        }
    }

    /// The same rows decoded to f32 (block formats dequantized, float types widened).
    static func forEachFloatBatch(_ t: ExportTensor, _ body: (UnsafeBufferPointer<Float>, Int) throws -> Void) throws {
        var values: [Float] = []
        try forEachBatch(t) { bytes, n in
            let count = n * t.columns
            if values.count < count { values = [Float](repeating: 0, count: count) }
            try values.withUnsafeMutableBufferPointer { out in
                let dst = UnsafeMutableBufferPointer(rebasing: out[0..<count])
                try Dequantize.toFloat(bytes, dtype: t.source.dtype, into: dst, columns: t.columns)
                try body(UnsafeBufferPointer(dst), n)
            }
        }
    }
}
