import TensorCore

/// Quantizes rows of floats into a block format, tail blocks included, on several threads.
public enum Quantize {
    public enum Mode: String, Sendable { case search, reference }

    package static func format(_ dtype: DType) throws(TensorError) -> any BlockFormat.Type {
        guard let f = BlockFormats.format(dtype) else { throw .unsupported("quantizing to \(dtype.rawValue) is not implemented") }
        return f
    }

    /// Quantizes one row of `n` weights (`x`) into `dst` (`dtype.rowBytes(n)` bytes).
    /// `weights`, if given, holds one importance per column (an importance matrix row).
    ///
    /// The search mode weighs each weight's squared error by importance × √(4σ² + x²), σ² the
    /// row's mean square — ggml's weighting when it has an importance matrix (there with σ²),
    /// used here with or without one. Plain least squares lowers RMSE most but lets the rare
    /// large weights move, and those matter most to the model. SmolLM2 mean KLD (8×512 tokens)
    /// for Q4_0: unweighted 0.341, reference quantizer 0.330, √(σ² + x²) 0.301, √(4σ² + x²)
    /// 0.294; for Q4_K 0.067 → 0.052 → 0.053. The milder 4σ² keeps RMSE below llama.cpp's on
    /// every format of the quantization benchmark (σ² alone did not for Q4_K).
    package static func row(_ x: UnsafePointer<Float>, _ n: Int, dtype: DType, mode: Mode, weights: UnsafePointer<Float>?,
                           into dst: UnsafeMutableRawPointer) throws(TensorError) {
        guard mode == .search else {
            try checkFinite(x, n)
            return try encode(x, n, dtype: dtype, mode: mode, weights: nil, into: dst)
        }
        try searchRow(x, n, dtype: dtype, format: try format(dtype) as? any EightBlockSearch.Type, weights: weights, into: dst)
    }

    /// `row` in search mode, with the format's 8-block search (if any) looked up by the caller.
    /// What is left after the groups of 8 goes to `tails` when given (searched later with other
    /// rows' last blocks), else is quantized here with an explicit weight vector.
    @inline(__always)
    static func searchRow(_ x: UnsafePointer<Float>, _ n: Int, dtype: DType, format main8: (any EightBlockSearch.Type)?,
                          weights: UnsafePointer<Float>?, tails: TailGather? = nil, into dst: UnsafeMutableRawPointer) throws(TensorError) {
        let importance = try rowImportance(x, n, columns: weights)
        var (i, p) = searchGroups(x, n, format: main8, importance: importance, into: dst)
        if let tails {
            while i < n {
                tails.add(x + i, columns: weights.map { $0 + i }, s2: importance.s2[0], into: p)
                i += dtype.blockSize
                p += dtype.blockBytes
            }
        }
        guard i < n else { return }
        let rest = n - i
        try withUnsafeTemporaryAllocation(of: Float.self, capacity: rest) { (w: UnsafeMutableBufferPointer<Float>) throws(TensorError) in
            importance.advanced(by: i).weights(x + i, rest, into: w.baseAddress!)
            try encode(x + i, rest, dtype: dtype, mode: .search, weights: w.baseAddress!, into: p)
        }
    }

    /// The row's weighting: s2 = 4σ² from Σx², which is NaN or ∞ if any x is, so it doubles as
    /// the finiteness check (the scan runs only then). Two running sums (one is a chain of
    /// dependent adds).
    @inline(__always)
    static func rowImportance(_ x: UnsafePointer<Float>, _ n: Int, columns: UnsafePointer<Float>?) throws(TensorError) -> RowImportance {
        var acc = SIMD8<Float>(), acc2 = SIMD8<Float>()
        var j = 0
        while j + 16 <= n {
            let v = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            let v2 = UnsafeRawPointer(x + j + 8).loadUnaligned(as: SIMD8<Float>.self)
            acc.addProduct(v, v); acc2.addProduct(v2, v2)
            j += 16
        }
        var s2 = (acc + acc2).sum()
        while j < n { s2 += x[j] * x[j]; j += 1 }
        if !s2.isFinite { try checkFinite(x, n) }
        return RowImportance(s2: s2 * (4 / Float(max(1, n))), columns: columns)
    }

    /// The row's whole groups of 8 blocks, where the format has that search (it weighs them
    /// itself); returns the column and the output position after them. The format is looked up
    /// once per matrix: a cast to the protocol per row showed as runtime conformance lookups.
    @inline(__always)
    static func searchGroups(_ x: UnsafePointer<Float>, _ n: Int, format main: (any EightBlockSearch.Type)?, importance: RowImportance,
                             into dst: UnsafeMutableRawPointer) -> (Int, UnsafeMutableRawPointer) {
        var i = 0
        var p = dst
        if let main {
            let span = 8 * main.dtype.blockSize, bytes = 8 * main.dtype.blockBytes
            while n - i >= span {
                main.quantize8(x + i, importance: importance.advanced(by: i), into: p)
                p += bytes
                i += span
            }
        }
        return (i, p)
    }

    /// A NaN or infinity has no level in any format (and would trap a float → int
    /// conversion): refuse it with the value, not a crash.
    static func checkFinite(_ x: UnsafePointer<Float>, _ n: Int) throws(TensorError) {
        // x·0 is NaN exactly for NaN and ±∞; two running sums (one was a chain of dependent adds).
        var probe = SIMD8<Float>(), probe2 = SIMD8<Float>()
        var k = 0
        while k + 16 <= n {
            probe += UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self) * 0
            probe2 += UnsafeRawPointer(x + k + 8).loadUnaligned(as: SIMD8<Float>.self) * 0
            k += 16
        }
        while k < n { probe[0] += x[k] * 0; k += 1 }
        if (probe + probe2).sum().isNaN, let bad = (0..<n).first(where: { !x[$0].isFinite }) {
            throw .nonFinite(tensor: "", index: bad, value: x[bad])
        }
    }

    /// Block by block, tail blocks included: the reference quantizer, or the search with an
    /// explicit weight per value.
    static func encode(_ x: UnsafePointer<Float>, _ n: Int, dtype: DType, mode: Mode, weights: UnsafePointer<Float>?,
                       into dst: UnsafeMutableRawPointer) throws(TensorError) {
        let main = try format(dtype)
        var p = dst
        var i = 0
        func put(_ f: any BlockFormat.Type) {
            if mode == .reference { f.quantizeReference(x + i, into: p) }
            else { f.quantize(x + i, weights: weights.map { $0 + i }, into: p) }
            p += f.dtype.blockBytes
            i += f.dtype.blockSize
        }
        while n - i >= dtype.blockSize { put(main) }
        if i < n {
            guard let tailType = dtype.tailType else { throw .invalidShape("row of \(n) is not a whole number of \(dtype.rawValue) blocks") }
            let tail = try format(tailType)
            guard (n - i) % tailType.blockSize == 0 else { throw .invalidShape("row of \(n) is not a whole number of 32-weight blocks") }
            while i < n { put(tail) }
        }
    }

    /// Quantizes a whole [rows, columns] matrix of floats (`matrices` with one job).
    package static func matrix(_ x: UnsafeBufferPointer<Float>, columns: Int, dtype: DType, mode: Mode,
                              weights: UnsafeBufferPointer<Float>?, threads: Int, into dst: UnsafeMutableRawBufferPointer) throws {
        try matrices([MatrixJob(x, columns: columns, dtype: dtype, weights: weights, into: dst)], mode: mode, threads: threads)
    }
}
