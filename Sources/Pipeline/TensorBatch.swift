import Checkpoints
import Quantization
import TensorCore

/// Consecutive tensors of a quantization handled as one unit: their values are read (decoded in
/// one parallel region if they are not f32), quantized in one parallel region into one output
/// buffer, and written by one write-behind job. SmolLM2 has 272 tensors of 0.1–0.9M weights;
/// one region and one write per tensor made every tensor pay two thread wake-ups (inter-processor
/// interrupts, costly in a VM) and a wait for its slowest task. A batch stops before it would
/// pass `limit` weights, so big tensors (Mistral-7B's) still go one by one and memory stays
/// about one large tensor.
struct TensorBatch {
    struct Member {
        let entry: Int
        let tensor: SourceTensor
        let type: DType
        /// Where its encoded bytes start in the batch's output, and how many.
        let offset: Int
        let bytes: Int
        var columns: Int { tensor.shape.last ?? 1 }
    }

    var members: [Member] = []
    var weights = 0
    var outputBytes = 0
    var inputBytes: Int { members.reduce(0) { $0 + $1.tensor.byteCount } }

    static let limit = 8 << 20

    /// The plan's tensors cut into batches, in order.
    static func batches(_ entries: [Quantizer.Entry], byName: [String: SourceTensor], limit: Int = limit) throws -> [TensorBatch] {
        var out: [TensorBatch] = []
        var current = TensorBatch()
        for (i, e) in entries.enumerated() {
            guard let t = byName[e.name], let type = DType(rawValue: e.type) else { continue }
            if !current.members.isEmpty && current.weights + t.elementCount > limit {
                out.append(current)
                current = TensorBatch()
            }
            let bytes = try type.byteCount(shape: [t.elementCount / max(t.shape.last ?? 1, 1), t.shape.last ?? 1])
            current.members.append(Member(entry: i, tensor: t, type: type, offset: current.outputBytes, bytes: bytes))
            current.weights += t.elementCount
            // 64-byte aligned starts: every member's blocks begin on a cache line.
            current.outputBytes += (bytes + 63) / 64 * 64
        }
        if !current.members.isEmpty { out.append(current) }
        return out
    }

    /// The members' source bytes (mapped), and their values as f32: an aligned f32 source
    /// itself (no copy), else decoded into one buffer from `pool`, all members in one region.
    func load(threads: Int, pool: BufferPool) throws -> (sources: [ByteRegion], values: [UnsafeBufferPointer<Float>], decoded: ByteRegion?) {
        let sources = try members.map { try $0.tensor.load() }
        var values = [UnsafeBufferPointer<Float>?](repeating: nil, count: members.count)
        var toDecode: [(member: Int, offset: Int)] = []
        var decodedCount = 0
        for (k, m) in members.enumerated() {
            let n = m.tensor.elementCount
            if m.tensor.dtype == .f32, let p = sources[k].bytes.baseAddress, Int(bitPattern: p) % 4 == 0, sources[k].count >= 4 * n {
                values[k] = UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: n)
            } else {
                toDecode.append((k, decodedCount))
                decodedCount += n
            }
        }
        var decoded: ByteRegion?
        if !toDecode.isEmpty {
            let region = try pool.region(count: 4 * decodedCount) { dst in
                guard let base = dst.baseAddress?.assumingMemoryBound(to: Float.self) else { return }
                // Slices of ~256K values from every member, one queue.
                var slices: [(member: Int, out: Int, rows: Range<Int>)] = []
                for (k, offset) in toDecode {
                    let m = members[k], columns = max(m.columns, 1), rows = m.tensor.elementCount / columns
                    let per = max(1, (1 << 18) / columns)
                    for r in stride(from: 0, to: rows, by: per) { slices.append((k, offset, r..<min(rows, r + per))) }
                }
                try parallelFor(slices.count, threads: threads) { s, _ in
                    let (k, offset, rows) = slices[s]
                    let m = members[k], columns = max(m.columns, 1)
                    let rowBytes = try m.tensor.dtype.rowBytes(columns)
                    try sources[k].withBytes { b in
                        try Dequantize.toFloat(UnsafeRawBufferPointer(rebasing: b[(rows.lowerBound * rowBytes)..<(rows.upperBound * rowBytes)]),
                                               dtype: m.tensor.dtype,
                                               into: UnsafeMutableBufferPointer(start: base + offset + rows.lowerBound * columns, count: rows.count * columns),
                                               columns: columns)
                    }
                }
            }
            if let base = region.bytes.baseAddress?.assumingMemoryBound(to: Float.self) {
                for (k, offset) in toDecode { values[k] = UnsafeBufferPointer(start: base + offset, count: members[k].tensor.elementCount) }
            }
            decoded = region
        }
        return (sources, values.map { $0 ?? UnsafeBufferPointer(start: nil, count: 0) }, decoded)
    }
}

/// The matrix jobs that turn tensors' f32 values into their block formats, collected so that
/// several tensors run in one parallel region (`Quantize.matrices`); float targets are
/// converted on the spot. Holds copies of the importance vectors the jobs point to.
final class EncodeJobs {
    private(set) var jobs: [MatrixJob] = []
    private var importance: [UnsafeMutableBufferPointer<Float>] = []
    let options: Quantizer.Options

    init(options: Quantizer.Options) { self.options = options }

    deinit { for w in importance { w.deallocate() } }

    /// Adds tensor `name`'s values (rows of `columns`), to be written as `type` into `dst`
    /// (every byte of it).
    func add(_ values: UnsafeBufferPointer<Float>, name: String, shape: [Int], columns: Int, type: DType,
             into dst: UnsafeMutableRawBufferPointer) throws {
        guard type.isBlockQuantized else {
            return try FloatConversion.fromFloat(values, to: type, into: dst, tensor: name)
        }
        // Importance weights apply to the search quantizer; tensors without an entry get none.
        // A stacked expert tensor [experts, rows, columns] takes each expert's own entry.
        let vectors: [[Float]]? = options.mode == .search ? options.imatrix.flatMap { m in
            if let w = m.weights(for: name), w.count == columns { return [w] }
            return shape.count == 3 ? Quantizer.stackedExpertImportance(m, name: name, experts: shape[0], columns: columns) : nil
        } : nil
        guard let vectors, !vectors.isEmpty else {
            jobs.append(MatrixJob(values, columns: columns, dtype: type, into: dst, tensor: name))
            return
        }
        // One slice of rows per importance vector (one slice unless experts are stacked).
        let rows = values.count / max(columns, 1), per = rows / vectors.count
        let sliceBytes = per * (try type.rowBytes(columns))
        for (e, v) in vectors.enumerated() {
            let w = UnsafeMutableBufferPointer<Float>.allocate(capacity: v.count)
            _ = w.initialize(from: v)
            importance.append(w)
            jobs.append(MatrixJob(UnsafeBufferPointer(rebasing: values[(e * per * columns)..<((e + 1) * per * columns)]), columns: columns,
                                  dtype: type, weights: UnsafeBufferPointer(w),
                                  into: UnsafeMutableRawBufferPointer(rebasing: dst[(e * sliceBytes)..<((e + 1) * sliceBytes)]),
                                  tensor: name, indexOffset: e * per * columns))
        }
    }

    /// Runs every job added, in one parallel region.
    func run() throws {
        try Quantize.matrices(jobs, mode: options.mode, threads: options.threads)
    }
}
