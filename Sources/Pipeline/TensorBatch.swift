import Checkpoints
import Quantization
import TensorCore

/// A unit of a quantization's work: pieces of consecutive tensors — whole small tensors, or a
/// slice of rows of a large one — whose values are read (decoded in one parallel region if they
/// are not f32), quantized in one parallel region into one recycled output buffer, and written
/// by one write-behind job.
///
/// Why batches: a model of many small tensors would otherwise pay two thread wake-ups and a wait
/// for the slowest task per tensor. Why slices: the output buffer of a whole large tensor is
/// fresh memory, each page faulted in and cleared; slices of at most `limit` weights keep two
/// small recycled buffers in use for any model (and peak memory with them). The file is the
/// same either way.
struct TensorBatch {
    /// Rows `rows` of a tensor: encoded as `type` at `offset` in the batch's output (`bytes`
    /// long), or with `copy` its stored bytes written as they are (`type` is then its dtype and
    /// the piece takes no output space).
    struct Piece {
        let entry: Int
        let tensor: SourceTensor
        let type: DType
        var copy = false
        let rows: Range<Int>
        let offset: Int
        let bytes: Int
        var columns: Int { max(tensor.shape.last ?? 1, 1) }
        var totalRows: Int { tensor.elementCount / columns }
        var isFirst: Bool { rows.lowerBound == 0 }
        var isLast: Bool { rows.upperBound == totalRows }
        var weights: Int { rows.count * columns }
        /// The source bytes of these rows.
        var inputBytes: Int { (try? tensor.dtype.rowBytes(columns)).map { $0 * rows.count } ?? 0 }

        init(entry: Int, tensor: SourceTensor, type: DType, copy: Bool = false, rows: Range<Int>, offset: Int, bytes: Int) {
            self.entry = entry
            self.tensor = tensor
            self.type = type
            self.copy = copy
            self.rows = rows
            self.offset = offset
            self.bytes = bytes
        }
    }

    var pieces: [Piece] = []
    var weights = 0
    var outputBytes = 0

    static let limit = 8 << 20

    /// The plan's tensors, each encoded as its entry's type, cut into batches (see below).
    static func batches(_ entries: [Quantizer.Entry], byName: [String: SourceTensor], limit: Int = limit) throws -> [TensorBatch] {
        try batches(TensorEngine.steps(entries, byName: byName), limit: limit)
    }

    /// The steps' tensors cut into batches of at most `limit` weights (a tensor larger than
    /// that is cut into slices of whole rows), in order.
    static func batches(_ steps: [TensorEngine.Step], limit: Int = limit) throws -> [TensorBatch] {
        var out: [TensorBatch] = []
        var current = TensorBatch()
        for (i, step) in steps.enumerated() {
            let t = step.tensor
            let (type, copy): (DType, Bool) = {
                switch step.encoding {
                case .copy: return (t.dtype, true)
                case .encode(let type): return (type, false)
                }
            }()
            guard t.elementCount > 0 else {
                // An empty tensor is still written (no bytes, its shape in the directory).
                current.pieces.append(Piece(entry: i, tensor: t, type: type, copy: copy, rows: 0..<0, offset: current.outputBytes, bytes: 0))
                continue
            }
            let columns = max(t.shape.last ?? 1, 1), rows = t.elementCount / columns
            let rowBytes = try type.rowBytes(columns)
            let slice = max(1, limit / columns)
            var r = 0
            repeat {
                let range = r..<min(rows, r + slice)
                if !current.pieces.isEmpty && current.weights + range.count * columns > limit {
                    out.append(current)
                    current = TensorBatch()
                }
                current.pieces.append(Piece(entry: i, tensor: t, type: type, copy: copy, rows: range, offset: current.outputBytes,
                                            bytes: range.count * rowBytes))
                current.weights += range.count * columns
                // 64-byte aligned starts: every piece's blocks begin on a cache line.
                if !copy { current.outputBytes += (range.count * rowBytes + 63) / 64 * 64 }
                r = range.upperBound
            } while r < rows
        }
        if !current.pieces.isEmpty { out.append(current) }
        return out
    }

    /// Each piece's values as f32: its rows of an aligned f32 source themselves (no copy), else
    /// decoded into one buffer from `pool`, every piece in one parallel region; none for a
    /// `copy` piece. `sources` holds each piece's loaded tensor bytes; the result is valid while
    /// they and `decoded` live.
    func values(sources: [ByteRegion], threads: Int, pool: BufferPool) throws -> (values: [UnsafeBufferPointer<Float>], decoded: ByteRegion?) {
        var values = [UnsafeBufferPointer<Float>](repeating: UnsafeBufferPointer(start: nil, count: 0), count: pieces.count)
        var toDecode: [(piece: Int, offset: Int)] = []
        var decodedCount = 0
        for (k, p) in pieces.enumerated() where !p.copy {
            let start = p.rows.lowerBound * p.columns
            if p.tensor.dtype == .f32, let b = sources[k].bytes.baseAddress, Int(bitPattern: b) % 4 == 0, sources[k].count >= 4 * p.tensor.elementCount {
                values[k] = UnsafeBufferPointer(start: b.assumingMemoryBound(to: Float.self) + start, count: p.weights)
            } else {
                toDecode.append((k, decodedCount))
                decodedCount += p.weights
            }
        }
        guard !toDecode.isEmpty else { return (values, nil) }
        let region = try pool.region(count: 4 * decodedCount) { dst in
            guard let base = dst.baseAddress?.assumingMemoryBound(to: Float.self) else { return }
            // Slices of ~256K values from every piece, one queue.
            var slices: [(piece: Int, out: Int, rows: Range<Int>)] = []
            for (k, offset) in toDecode {
                let p = pieces[k], per = max(1, (1 << 18) / p.columns)
                for r in stride(from: p.rows.lowerBound, to: p.rows.upperBound, by: per) {
                    slices.append((k, offset + (r - p.rows.lowerBound) * p.columns, r..<min(p.rows.upperBound, r + per)))
                }
            }
            let shared = SharedBuffer(base)   // each slice fills only its own rows
            try parallelFor(slices.count, threads: threads) { [slices] s, _ in
                let (k, out, rows) = slices[s]
                let p = pieces[k]
                let rowBytes = try p.tensor.dtype.rowBytes(p.columns)
                try sources[k].withBytes { b in
                    try Dequantize.toFloat(UnsafeRawBufferPointer(rebasing: b[(rows.lowerBound * rowBytes)..<(rows.upperBound * rowBytes)]),
                                           dtype: p.tensor.dtype, into: UnsafeMutableBufferPointer(start: shared.base + out, count: rows.count * p.columns),
                                           columns: p.columns)
                }
            }
        }
        if let base = region.bytes.baseAddress?.assumingMemoryBound(to: Float.self) {
            for (k, offset) in toDecode { values[k] = UnsafeBufferPointer(start: base + offset, count: pieces[k].weights) }
        }
        return (values, region)
    }
}

/// The matrix jobs that turn tensors' f32 values into their block formats, collected so that
/// several tensors run in one parallel region (`Quantize.matrices`); float targets are
/// converted on the spot. Holds copies of the importance vectors the jobs point to.
final class EncodeJobs {
    private(set) var jobs: [MatrixJob] = []
    private var importance: [UnsafeMutableBufferPointer<Float>] = []
    let mode: Quantize.Mode
    let imatrix: ImportanceMatrix?
    let threads: Int

    init(mode: Quantize.Mode, imatrix: ImportanceMatrix?, threads: Int) {
        self.mode = mode
        self.imatrix = imatrix
        self.threads = threads
    }

    convenience init(options: Quantizer.Options) { self.init(mode: options.mode, imatrix: options.imatrix, threads: options.threads) }

    deinit { for w in importance { w.deallocate() } }

    /// Adds rows `rows` (all when nil) of tensor `name` (rows of `columns`), their values in
    /// `values`, to be written as `type` into `dst` (every byte of it).
    func add(_ values: UnsafeBufferPointer<Float>, name: String, shape: [Int], columns: Int, rows: Range<Int>? = nil, type: DType,
             into dst: UnsafeMutableRawBufferPointer) throws {
        guard !values.isEmpty else { return }
        guard type.isBlockQuantized else {
            return try FloatConversion.fromFloat(values, to: type, into: dst, tensor: name)
        }
        let rows = rows ?? 0..<(values.count / max(columns, 1))
        // Importance weights apply to the search quantizer; tensors without an entry get none.
        // A stacked expert tensor [experts, rows, columns] takes each expert's own entry.
        let vectors: [[Float]]? = mode == .search ? imatrix.flatMap { m in
            if let w = m.weights(for: name), w.count == columns { return [w] }
            return shape.count == 3 ? Quantizer.stackedExpertImportance(m, name: name, experts: shape[0], columns: columns) : nil
        } : nil
        guard let vectors, !vectors.isEmpty else {
            jobs.append(MatrixJob(values, columns: columns, dtype: type, into: dst, tensor: name, indexOffset: rows.lowerBound * columns))
            return
        }
        // One part of the rows per importance vector: all of them, or each stacked expert's
        // (shape [experts, rows, columns]).
        let rowBytes = try type.rowBytes(columns)
        let per = vectors.count > 1 && shape.count == 3 ? shape[1] : rows.upperBound
        for (e, v) in vectors.enumerated() {
            let lo = max(rows.lowerBound, e * per), hi = min(rows.upperBound, (e + 1) * per)
            guard lo < hi else { continue }
            let part = lo..<hi
            let w = UnsafeMutableBufferPointer<Float>.allocate(capacity: v.count)
            _ = w.initialize(from: v)
            importance.append(w)
            let local = (part.lowerBound - rows.lowerBound)..<(part.upperBound - rows.lowerBound)
            jobs.append(MatrixJob(UnsafeBufferPointer(rebasing: values[(local.lowerBound * columns)..<(local.upperBound * columns)]), columns: columns,
                                  dtype: type, weights: UnsafeBufferPointer(w),
                                  into: UnsafeMutableRawBufferPointer(rebasing: dst[(local.lowerBound * rowBytes)..<(local.upperBound * rowBytes)]),
                                  tensor: name, indexOffset: part.lowerBound * columns))
        }
    }

    /// Runs every job added, in one parallel region on `threads` (default: the initialiser's).
    func run(threads: Int? = nil) throws {
        try Quantize.matrices(jobs, mode: mode, threads: threads ?? self.threads)
    }
}
