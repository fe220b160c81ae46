import Quantization
import TensorCore

/// A weight matrix [rows, columns] kept in its stored format (f32, f16, bf16 or a block
/// format): a view into the mapped file, a copy in huge pages or a repacked copy
/// (`PackedQ4_0`), as the format's `residency` says. The forward pass multiplies by it without a resident f32
/// copy: one row at a time for decoding (`RowDot`, `Q8Dot`, `PackedQ4_0`), or dequantized
/// panel by panel for a batched BLAS multiply.
package struct WeightMatrix: @unchecked Sendable {
    package let name: String
    package let dtype: DType
    package let rows: Int
    package let columns: Int
    package let rowBytes: Int
    let region: ByteRegion
    /// Q4_0 matrices of whole 16-row groups, repacked for the row-per-lane decoding kernel (the
    /// mapped original's pages are then dropped: the same bytes, held once).
    let packed: PackedQ4_0?

    /// This format's kernels: against f32 activations, and against Q8 ones if it has one.
    let rowDot: F32RowDot
    let q8Kernel: Q8RowDot?

    package init(name: String, dtype: DType, rows: Int, columns: Int, region: ByteRegion, arena: LargeBufferArena? = LargeBufferArena()) throws {
        self.name = name
        self.dtype = dtype
        self.rows = rows
        self.columns = columns
        rowBytes = try dtype.rowBytes(columns)
        guard let rowDot = RowDot.kernel(dtype) else { throw TensorError.unsupported("\(name): \(dtype.rawValue) tensors are not weights") }
        self.rowDot = rowDot
        q8Kernel = Q8Activation.accepts(columns) ? Q8Dot.kernel(dtype) : nil
        guard region.count >= rows * rowBytes else { throw TensorError.invalidShape("\(name): \(region.count) bytes for \(rows) rows of \(rowBytes)") }
        let residency = BlockFormats.format(dtype)?.residency ?? .mapped
        if let arena, residency == .hugePageCopy, let (memory, owner) = arena.allocate(rows * rowBytes) {
            let source = region, count = rows * rowBytes
            source.withBytes { b in if let p = b.baseAddress { memory.copyMemory(from: p, byteCount: count) } }
            source.dropPages()
            self.region = ByteRegion(owner: owner, bytes: UnsafeRawBufferPointer(start: memory, count: rows * rowBytes))
        } else {
            // Read ahead now: a model file just written (O_DIRECT, not in the page cache) would
            // otherwise be read a fault at a time by the first prompt.
            region.willNeed()
            self.region = region
        }
        if let arena, residency == .repackedQ4_0 && PackedQ4_0.accepts(rows: rows, columns: columns) {
            packed = region.withBytes { b in b.baseAddress.flatMap { PackedQ4_0($0, rows: rows, columns: columns, arena: arena) } }
            if packed != nil { region.dropPages() }
        } else {
            packed = nil
        }
    }

    package var bytes: Int { rows * rowBytes }

    /// Decodes rows `r0 ..< r1` into `out` (row-major f32).
    package func dequantize(rows r: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        if let packed { return packed.dequantize(rows: r, into: out) }
        region.withBytes { b in
            let src = UnsafeRawBufferPointer(rebasing: b[(r.lowerBound * rowBytes)..<(r.upperBound * rowBytes)])
            // The dtype and row length were validated on construction.
            try? Dequantize.toFloat(src, dtype: dtype, into: UnsafeMutableBufferPointer(start: out, count: r.count * columns), columns: columns)
        }
    }

    /// Whether a chunk of tokens can be multiplied in integers against Q8-quantized
    /// activations (`PackedQ4_0.multiply`: every repacked Q4_0 matrix).
    package var acceptsTokenGEMM: Bool { packed?.acceptsTokenGEMM ?? false }

    /// y[t · stride + o] = Σ W[o, ·] · a[t, ·] for rows o in `r` (starting at a multiple of 32,
    /// ending at one or at the last row); only for matrices with `acceptsTokenGEMM`.
    package func multiply(_ a: Q8Tokens, rows r: Range<Int>, into y: UnsafeMutablePointer<Float>, stride: Int) {
        packed?.multiply(a, rows: r, into: y, stride: stride)
    }

    /// Whether decoding quantizes the activation to Q8 for this matrix (integer kernels).
    package var usesQ8Activation: Bool { packed != nil || q8Kernel != nil }

    /// y[o] = Σ W[o, i] · x[i] for rows `r`, reading the stored format directly: the integer
    /// kernels against `q8` (x quantized) where the format has one, else f32 against x.
    package func matvec(_ x: UnsafePointer<Float>, q8: Q8Activation?, into y: UnsafeMutablePointer<Float>, rows r: Range<Int>,
                       scratch: UnsafeMutablePointer<Float>) {
        if let packed {
            guard let q8, q8.count == columns else {
                for o in r {
                    packed.dequantize(rows: o..<(o + 1), into: scratch)
                    y[o] = RowDot.f32(UnsafeRawPointer(scratch), x, columns)
                }
                return
            }
            // Whole groups straight into y; a group cut by the range goes through a buffer.
            let first = (r.lowerBound + 15) / 16, end = r.upperBound / 16
            let whole = first..<max(first, end)
            if !whole.isEmpty { packed.matvec(q8, groups: whole, into: y) }
            var g = r.lowerBound / 16
            while 16 * g < r.upperBound {
                if whole.contains(g) {
                    g = whole.upperBound
                    continue
                } else {
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { t in
                        packed.matvec(q8, groups: g..<(g + 1), into: t.baseAddress! - 16 * g)
                        for o in max(r.lowerBound, 16 * g)..<min(r.upperBound, 16 * g + 16) { y[o] = t[o - 16 * g] }
                    }
                }
                g += 1
            }
            return
        }
        region.withBytes { b in
            guard let base = b.baseAddress else { return }
            if let q8, let q8Kernel, q8.count == columns {
                Q8Dot.matvec(base, rowBytes: rowBytes, rows: r, kernel: q8Kernel, q8, into: y)
                return
            }
            for o in r {
                y[o] = rowDot(base + o * rowBytes, x, columns, scratch)
            }
        }
    }
}
