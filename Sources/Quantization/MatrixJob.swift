import TensorCore

/// One matrix for `Quantize.matrices`: rows of `columns` floats into `dtype` blocks at `dst`,
/// with an optional importance per column. `tensor` and `indexOffset` (where `x` starts in its
/// tensor) only name a non-finite value's place in the error. Unchecked Sendable: its pointers
/// name the caller's buffers, alive for the call, and the parallel tasks read `x` and `weights`
/// and write disjoint rows of `dst`.
package struct MatrixJob: @unchecked Sendable {
    package var x: UnsafeBufferPointer<Float>
    package var columns: Int
    package var dtype: DType
    package var weights: UnsafeBufferPointer<Float>?
    package var dst: UnsafeMutableRawBufferPointer
    package var tensor: String
    package var indexOffset: Int

    package init(_ x: UnsafeBufferPointer<Float>, columns: Int, dtype: DType, weights: UnsafeBufferPointer<Float>? = nil,
                into dst: UnsafeMutableRawBufferPointer, tensor: String = "", indexOffset: Int = 0) {
        self.x = x
        self.columns = columns
        self.dtype = dtype
        self.weights = weights
        self.dst = dst
        self.tensor = tensor
        self.indexOffset = indexOffset
    }

    var rows: Int { columns > 0 ? x.count / columns : 0 }
}

extension Quantize {
    /// Quantizes several matrices in one parallel region: tasks of whole rows from every job
    /// share one queue, so many small matrices (SmolLM2's are 0.1–0.9M weights) do not each pay
    /// a thread wake-up and wait for the slowest task at their end. A task is ~1M weights at
    /// most, and there are at least 16 per thread over all the jobs. The bytes written do not
    /// depend on the split (rows are independent, and `TailGather` never mixes lanes).
    package static func matrices(_ jobs: [MatrixJob], mode: Mode, threads: Int) throws {
        struct Task { var job: Int; var rows: Range<Int> }
        var tasks: [Task] = []
        var formats: [(any EightBlockSearch.Type)?] = []
        let total = jobs.reduce(0) { $0 + $1.rows * $1.columns }
        let perTaskWeights = max(1, min(1 << 20, total / (16 * max(1, threads))))
        for (j, job) in jobs.enumerated() {
            guard job.columns > 0 else { formats.append(nil); continue }
            let rowBytes = try job.dtype.rowBytes(job.columns)
            guard job.dst.count >= job.rows * rowBytes, job.dst.baseAddress != nil || job.rows == 0 else {
                throw TensorError.invalidShape("destination too small")
            }
            if let w = job.weights, w.count != job.columns {
                throw TensorError.invalidShape("importance vector has \(w.count) entries for rows of \(job.columns)")
            }
            formats.append(try format(job.dtype) as? any EightBlockSearch.Type)
            let per = max(1, perTaskWeights / job.columns)
            for r in stride(from: 0, to: job.rows, by: per) { tasks.append(Task(job: j, rows: r..<min(job.rows, r + per))) }
        }
        try parallelFor(tasks.count, threads: threads) { [tasks, formats] t, _ in
            let task = tasks[t], job = jobs[task.job], main8 = formats[task.job]
            guard let xs = job.x.baseAddress, let d = job.dst.baseAddress else { return }
            let columns = job.columns, dtype = job.dtype
            let rowBytes = try dtype.rowBytes(columns)
            // A row's last < 8 blocks of an 8-block-search format are searched eight at a time
            // across the task's rows (`TailGather`) instead of one by one.
            let span = 8 * dtype.blockSize
            let gather = mode == .search && main8 != nil && columns % dtype.blockSize == 0 && columns % span != 0
            let tails = gather ? main8.map { TailGather(format: $0, imatrix: job.weights != nil) } : nil
            for r in task.rows {
                let x = xs + r * columns, out = d + r * rowBytes
                do {
                    if mode == .search {
                        try searchRow(x, columns, dtype: dtype, format: main8, weights: job.weights?.baseAddress, tails: tails, into: out)
                    } else {
                        try row(x, columns, dtype: dtype, mode: mode, weights: nil, into: out)
                    }
                } catch TensorError.nonFinite(_, let i, let v) {
                    throw TensorError.nonFinite(tensor: job.tensor, index: job.indexOffset + r * columns + i, value: v)
                }
            }
            tails?.flush()
        }
    }
}
