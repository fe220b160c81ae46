import Foundation
import Quantization
import TensorCore

/// Re-encodes a tensor GGUF has no type for (rows ending in tail blocks) into a ggml type:
/// decoded to floats, quantized again with the search quantizer, and the RMS difference from
/// the stored values kept for the report. Used by one writer at a time.
final class Reencoder {
    let threads: Int
    /// Tensor name → RMS difference between its stored and its re-encoded values.
    private(set) var rmse: [String: Double] = [:]
    /// The re-encoded tensors' memory, recycled as the writer lets each go (cleared, as the
    /// fresh buffers it replaces were).
    private let outputs = BufferPool(keep: 1, zeroed: true)

    init(threads: Int) { self.threads = threads }

    func run(_ t: SourceTensor, to dtype: DType) throws -> ByteRegion {
        guard let columns = t.shape.last, columns > 0 else { throw PipelineError.internal("\(t.name) has no rows to re-encode") }
        let count = t.elementCount
        var values = [Float](repeating: 0, count: count)
        let source = try t.load()
        try source.withBytes { src in try values.withUnsafeMutableBufferPointer { try Dequantize.toFloat(src, dtype: t.dtype, into: $0, columns: columns) } }
        let bytes = try dtype.byteCount(shape: t.shape)
        let out = try outputs.region(count: bytes) { dst in
            try values.withUnsafeBufferPointer { x in
                try Quantize.matrix(x, columns: columns, dtype: dtype, mode: .search, weights: nil, threads: threads, into: dst)
            }
        }
        var decoded = [Float](repeating: 0, count: count)
        try out.withBytes { b in try decoded.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: dtype, into: $0, columns: columns) } }
        var sum = 0.0
        for i in 0..<count { let d = Double(values[i] - decoded[i]); sum += d * d }
        rmse[t.name] = (sum / Double(max(count, 1))).squareRoot()
        return out
    }
}
