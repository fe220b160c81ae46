import Checkpoints
import Foundation
import ModelFile
import Quantization
import TensorCore

/// The one loop that turns a checkpoint's tensors into a `.tmt`'s: a plan of steps (each
/// tensor's stored bytes copied, or its values encoded as a float type or a block format) run
/// in batches and slices (`TensorBatch`) through recycled buffers, encoded on every core, and
/// written in order by a write-behind thread through `TMTWriter`. `convert` and `quantize` are
/// this engine with different plans; the caller finishes the file with its provenance.
struct TensorEngine {
    /// What one tensor becomes.
    enum Encoding: Equatable {
        /// Its stored bytes, as they are.
        case copy
        /// Its values, decoded to f32, encoded as this type.
        case encode(DType)
    }

    struct Step {
        let tensor: SourceTensor
        let encoding: Encoding
    }

    /// A quantization plan's entries as steps, each encoded as its entry's type.
    static func steps(_ entries: [Quantizer.Entry], byName: [String: SourceTensor]) throws -> [Step] {
        try entries.map { e in
            guard let t = byName[e.name] else { throw TensorError.invalidShape("plan entry \(e.name) names no tensor of the checkpoint") }
            guard let type = DType(rawValue: e.type) else { throw TensorError.unsupported("plan entry \(e.name): unknown type \(e.type)") }
            return Step(tensor: t, encoding: .encode(type))
        }
    }

    var threads: Int
    var mode: Quantize.Mode = .search
    var imatrix: ImportanceMatrix?
    /// Whether to measure each encoded tensor against its source (`--report`).
    var report = false
    /// Weights per unit of work: small tensors are batched up to it, larger ones cut into
    /// slices of it. The file does not depend on it.
    var batchWeights = TensorBatch.limit

    /// Writes each step's tensor through `writer`, in order, and waits for the last write;
    /// with `report`, returns each step's error sums (nil for copies). `metadata`'s hashing
    /// thread, while it runs, gets a core of its own.
    func run(_ steps: [Step], writer: TMTWriter, metadata: OutputMetadata, progress: ProgressReporter) throws -> [ErrorSums?] {
        let inputBytes = steps.reduce(0) { $0 + $1.tensor.byteCount }
        var done = 0
        let writes = WriteBehind()
        // Two outputs live at a time (one being filled, one being written), recycled; decoded
        // values (sources that are not f32) live for one batch.
        let buffers = BufferPool(keep: 2), decodedValues = BufferPool(keep: 1)
        // A tensor's loaded bytes while its slices are in flight; the report's sums per tensor.
        var loaded: [Int: ByteRegion] = [:]
        var sums: [Int: ErrorSums] = [:]
        var result = [ErrorSums?](repeating: nil, count: steps.count)
        do {
            for batch in try TensorBatch.batches(steps, limit: batchWeights) {
                let first = batch.pieces[0]
                progress.update(done: done, total: inputBytes, label: first.copy ? first.tensor.name : "\(first.tensor.name) → \(first.type.rawValue)")
                let sources = try batch.pieces.map { p -> ByteRegion in
                    if let s = loaded[p.entry] { return s }
                    let s = try p.tensor.load()
                    loaded[p.entry] = s
                    return s
                }
                for p in batch.pieces where p.isLast { loaded[p.entry] = nil }
                // The source hash is one serial stream: with every core also running a worker,
                // it got ~2/3 of one and finished last.
                let threads = self.threads > 1 && metadata.hashing ? self.threads - 1 : self.threads
                let (values, decoded) = try batch.values(sources: sources, threads: threads, pool: decodedValues)
                let encoded = try buffers.region(count: batch.outputBytes) { dst in
                    let jobs = EncodeJobs(mode: mode, imatrix: imatrix, threads: threads)
                    for (k, p) in batch.pieces.enumerated() where !p.copy {
                        try jobs.add(values[k], name: p.tensor.name, shape: p.tensor.shape, columns: p.columns, rows: p.rows, type: p.type,
                                     into: UnsafeMutableRawBufferPointer(rebasing: dst[p.offset..<(p.offset + p.bytes)]))
                    }
                    try jobs.run(threads: threads)
                }
                // The sources' pages are dropped after the write, off this thread (madvise was a
                // serial step between tensors).
                let pieces = batch.pieces
                try writes.submit {
                    try encoded.withBytes { b in
                        for (k, p) in pieces.enumerated() {
                            if p.isFirst { try writer.beginTensor(name: p.tensor.name, dtype: p.type, shape: p.tensor.shape) }
                            if p.copy {
                                let rowBytes = try p.type.rowBytes(p.columns)
                                try sources[k].withBytes { s in
                                    try writer.appendTensorBytes(UnsafeRawBufferPointer(rebasing: s[(p.rows.lowerBound * rowBytes)..<(p.rows.upperBound * rowBytes)]))
                                }
                            } else {
                                try writer.appendTensorBytes(UnsafeRawBufferPointer(rebasing: b[p.offset..<(p.offset + p.bytes)]))
                            }
                            if p.isLast { try writer.endTensor() }
                        }
                    }
                    for (k, p) in pieces.enumerated() { sources[k].rows(p.rows, of: p.totalRows).dropPages() }
                }
                if report {
                    try encoded.withBytes { b in
                        for (k, p) in batch.pieces.enumerated() where !p.copy {
                            var s = sums[p.entry] ?? ErrorSums()
                            try s.add(values[k], UnsafeRawBufferPointer(rebasing: b[p.offset..<(p.offset + p.bytes)]), type: p.type, columns: p.columns)
                            sums[p.entry] = p.isLast ? nil : s
                            if p.isLast { result[p.entry] = s }
                        }
                    }
                }
                // `values` point into `sources` (a recycled un-permuted copy, say) or `decoded`: both
                // must outlive the report, whatever the write job has released by then.
                withExtendedLifetime((sources, decoded)) {}
                done += batch.pieces.reduce(0) { $0 + $1.inputBytes }
            }
            try writes.drain()
        } catch {
            try? writes.drain()
            throw error
        }
        return result
    }
}
