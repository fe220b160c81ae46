import TensorCore

/// Dot products of one stored weight row with an f32 activation row, decoding each block in
/// registers (SIMD8 lanes, FMA with -target-cpu haswell). Formats without a kernel here decode
/// the row into `scratch` and use the f32 kernel. `scalarDot` is the plain reference the tests
/// hold these against.
public enum RowDot {
    typealias V = SIMD8<Float>

    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ o: Int) -> V { p.loadUnaligned(fromByteOffset: o, as: V.self) }

    public static func dot(_ row: UnsafeRawPointer, dtype: DType, _ x: UnsafePointer<Float>, _ n: Int, scratch: UnsafeMutablePointer<Float>) -> Float {
        switch dtype {
        case .f32: return f32(UnsafeRawPointer(row), x, n)
        case .q8_0: return q8_0(row, x, n)
        case .q4_0: return q4_0(row, x, n)
        case .f16: return f16(row, x, n)
        default:
            try? Dequantize.toFloat(UnsafeRawBufferPointer(start: row, count: (try? dtype.rowBytes(n)) ?? 0), dtype: dtype,
                                    into: UnsafeMutableBufferPointer(start: scratch, count: n), columns: n)
            return f32(UnsafeRawPointer(scratch), x, n)
        }
    }

    static func f32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
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

    /// Q8_0: per block d · Σ q·x.
    static func q8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        @inline(__always) func block(_ b: Int) -> V {
            let blk = w + 34 * b
            let d = Float(Float16(bitPattern: blk.loadUnaligned(as: UInt16.self)))
            @inline(__always) func q(_ k: Int) -> V { V(SIMD8<Int32>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: 2 + 8 * k, as: SIMD8<Int8>.self))) }
            var a = q(0) * load8(xr, 128 * b)
            var c = q(1) * load8(xr, 128 * b + 32)
            a.addProduct(q(2), load8(xr, 128 * b + 64))
            c.addProduct(q(3), load8(xr, 128 * b + 96))
            return (a + c) * V(repeating: d)
        }
        return sumOfBlocks(n / 32, block).total
    }

    /// Q4_0: per block d · Σ (q − 8)·x, low nibbles weights 0…15, high nibbles 16…31.
    static func q4_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        let eight = V(repeating: 8)
        @inline(__always) func block(_ b: Int) -> V {
            let blk = w + 18 * b
            let d = Float(Float16(bitPattern: blk.loadUnaligned(as: UInt16.self)))
            let b0 = SIMD8<UInt32>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: 2, as: SIMD8<UInt8>.self))
            let b1 = SIMD8<UInt32>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: 10, as: SIMD8<UInt8>.self))
            var a = (V(b0 & 0x0F) - eight) * load8(xr, 128 * b)
            var c = (V(b0 &>> 4) - eight) * load8(xr, 128 * b + 64)
            a.addProduct(V(b1 & 0x0F) - eight, load8(xr, 128 * b + 32))
            c.addProduct(V(b1 &>> 4) - eight, load8(xr, 128 * b + 96))
            return (a + c) * V(repeating: d)
        }
        return sumOfBlocks(n / 32, block).total
    }

    /// The plain reference: decode the whole row, then multiply and add in order.
    public static func scalarDot(_ row: UnsafeRawPointer, dtype: DType, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var w = [Float](repeating: 0, count: n)
        w.withUnsafeMutableBufferPointer { out in
            try? Dequantize.toFloat(UnsafeRawBufferPointer(start: row, count: (try? dtype.rowBytes(n)) ?? 0), dtype: dtype, into: out, columns: n)
        }
        var s: Float = 0
        for i in 0..<n { s += w[i] * x[i] }
        return s
    }
}
