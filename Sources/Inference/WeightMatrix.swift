import Quantization
import TensorCore

/// A weight matrix [rows, columns] kept in its stored format (f32, f16, bf16 or a block
/// format), as a view into the mapped file where it can be. The forward pass multiplies by it
/// without a resident f32 copy: one row at a time for decoding (`RowDot`, `Q8Dot`), or dequantized into a
/// scratch buffer for a batched BLAS multiply.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let rows: Int
    public let columns: Int
    public let rowBytes: Int
    let region: ByteRegion

    public init(name: String, dtype: DType, rows: Int, columns: Int, region: ByteRegion) throws {
        self.name = name
        self.dtype = dtype
        self.rows = rows
        self.columns = columns
        rowBytes = try dtype.rowBytes(columns)
        guard region.count >= rows * rowBytes else { throw TensorError.invalidShape("\(name): \(region.count) bytes for \(rows) rows of \(rowBytes)") }
        self.region = region
    }

    public var bytes: Int { rows * rowBytes }

    /// Decodes rows `r0 ..< r1` into `out` (row-major f32).
    public func dequantize(rows r: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        region.withBytes { b in
            let src = UnsafeRawBufferPointer(rebasing: b[(r.lowerBound * rowBytes)..<(r.upperBound * rowBytes)])
            // The dtype and row length were validated on construction.
            try? Dequantize.toFloat(src, dtype: dtype, into: UnsafeMutableBufferPointer(start: out, count: r.count * columns), columns: columns)
        }
    }

    /// Whether decoding quantizes the activation to Q8 for this matrix (integer kernels).
    public var usesQ8Activation: Bool { Q8Dot.supports(dtype) && Q8Activation.accepts(columns) }

    /// y[o] = Σ W[o, i] · x[i] for rows `r`, reading the stored format directly: the integer
    /// kernels against `q8` (x quantized) where the format has one, else f32 against x.
    public func matvec(_ x: UnsafePointer<Float>, q8: Q8Activation?, into y: UnsafeMutablePointer<Float>, rows r: Range<Int>,
                       scratch: UnsafeMutablePointer<Float>) {
        region.withBytes { b in
            guard let base = b.baseAddress else { return }
            if let q8, usesQ8Activation, q8.count == columns {
                Q8Dot.matvec(base, rowBytes: rowBytes, rows: r, dtype: dtype, q8, into: y)
                return
            }
            for o in r {
                y[o] = RowDot.dot(base + o * rowBytes, dtype: dtype, x, columns, scratch: scratch)
            }
        }
    }
}
