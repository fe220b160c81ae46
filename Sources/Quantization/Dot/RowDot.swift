import TensorCore

/// Σ w·x of one stored row against f32 activations: (row, x, n, scratch of n floats) → the dot product.
package typealias F32RowDot = (UnsafeRawPointer, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Float

/// Dot products of one stored weight row with an f32 activation row, decoding each block in
/// registers (SIMD8 lanes, FMA with -target-cpu haswell): the f32 and f16 kernels and what the
/// block formats' own kernels (`BlockFormat.dot`, in `Formats/`) share; a format without a
/// kernel of its own decodes the row into `scratch` and uses the f32 one. `scalarDot` is the plain reference the tests
/// hold these against.
package enum RowDot {
    typealias V = SIMD8<Float>

    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ o: Int) -> V { p.loadUnaligned(fromByteOffset: o, as: V.self) }

    /// Σ w·x for one stored row of `n` weights of `dtype` against f32 `x`; `scratch` holds `n`
    /// floats for formats that decode first. Integer types are not weights (`WeightMatrix`
    /// refuses them) and give NaN.
    package static func dot(_ row: UnsafeRawPointer, dtype: DType, _ x: UnsafePointer<Float>, _ n: Int, scratch: UnsafeMutablePointer<Float>) -> Float {
        kernel(dtype)?(row, x, n, scratch) ?? .nan
    }

    /// The f32-activation kernel for `dtype`: the format's own (`BlockFormat.dot`), or a float one.
    package static func kernel(_ dtype: DType) -> F32RowDot? {
        if let format = BlockFormats.format(dtype) { return format.dot }
        switch dtype {
        case .f32: return { w, x, n, _ in f32(w, x, n) }
        case .f16: return { w, x, n, _ in f16(w, x, n) }
        case .bf16:
            return { w, x, n, scratch in
                FloatConversion.bf16ToFloat(UnsafeRawBufferPointer(start: w, count: 2 * n), into: UnsafeMutableBufferPointer(start: scratch, count: n))
                return f32(UnsafeRawPointer(scratch), x, n)
            }
        case .f64:
            return { w, x, n, _ in
                var s: Float = 0
                for i in 0..<n { s += Float(w.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) * x[i] }
                return s
            }
        case .i64, .i32, .i16, .i8, .u8, .bool, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_k, .q6_k,
             .q5_k, .q3_k, .q2_k, .iq4_nl, .iq4_xs: return nil
        }
    }

    package static func f32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        var a = V(repeating: 0), b = V(repeating: 0)
        var i = 0
        while i + 16 <= n {
            a.addProduct(load8(w, 4 * i), load8(xr, 4 * i))
            b.addProduct(load8(w, 4 * i + 32), load8(xr, 4 * i + 32))
            i += 16
        }
        var s = (a + b).total
        while i < n { s += w.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) * x[i]; i += 1 }
        return s
    }

    static func f16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        @inline(__always) func h(_ i: Int) -> V { V(w.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)) }
        // Four accumulators: one FMA chain would wait on its own latency every 8 weights.
        var a = V(), b = V(), c = V(), d = V()
        var i = 0
        while i + 32 <= n {
            a.addProduct(h(i), load8(xr, 4 * i))
            b.addProduct(h(i + 8), load8(xr, 4 * i + 32))
            c.addProduct(h(i + 16), load8(xr, 4 * i + 64))
            d.addProduct(h(i + 24), load8(xr, 4 * i + 96))
            i += 32
        }
        while i + 8 <= n {
            a.addProduct(h(i), load8(xr, 4 * i))
            i += 8
        }
        var s = ((a + b) + (c + d)).total
        while i < n { s += Float(w.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)) * x[i]; i += 1 }
        return s
    }

    /// Σ block(b) over `blocks`, two blocks per step into separate accumulators so the
    /// floating-point chains overlap; the lanes are left for the caller to add.
    @inline(__always) static func sumOfBlocks(_ blocks: Int, _ block: (Int) -> V) -> V {
        var s0 = V(repeating: 0), s1 = V(repeating: 0)
        var b = 0
        while b + 2 <= blocks {
            s0 += block(b)
            s1 += block(b + 1)
            b += 2
        }
        if b < blocks { s0 += block(b) }
        return s0 + s1
    }

    /// `sumOfBlocks` for kernels with a scalar term per block besides the vector (the offset of
    /// Q4_0/Q5_0, the minimum of Q4_1/Q5_1: scale · Σx), the terms added in block order. Returned,
    /// not added to a captured `var`: where the block function did not inline, the captured
    /// variable was checked for exclusive access at run time on every block.
    @inline(__always) static func sumOfBlocksWithTerm(_ blocks: Int, _ block: (Int) -> (V, Float)) -> (V, Float) {
        var s0 = V(repeating: 0), s1 = V(repeating: 0), t: Float = 0
        var b = 0
        while b + 2 <= blocks {
            let (v0, t0) = block(b)
            s0 += v0; t += t0
            let (v1, t1) = block(b + 1)
            s1 += v1; t += t1
            b += 2
        }
        if b < blocks { let (v, t0) = block(b); s0 += v; t += t0 }
        return (s0 + s1, t)
    }

    /// The plain reference: decode the whole row, then multiply and add in order.
    package static func scalarDot(_ row: UnsafeRawPointer, dtype: DType, _ x: UnsafePointer<Float>, _ n: Int) throws -> Float {
        var w = [Float](repeating: 0, count: n)
        try w.withUnsafeMutableBufferPointer { out in
            try Dequantize.toFloat(UnsafeRawBufferPointer(start: row, count: try dtype.rowBytes(n)), dtype: dtype, into: out, columns: n)
        }
        var s: Float = 0
        for i in 0..<n { s += w[i] * x[i] }
        return s
    }
}
