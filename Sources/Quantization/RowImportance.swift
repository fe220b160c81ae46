/// How the search weighs each weight's squared error in a row: w_j = √(s2 + x_j²)·columns[j],
/// s2 = 4σ² with σ² the row's mean square, `columns` an importance-matrix row (nil: ones).
/// See `Quantize.row` for why this weighting.
///
/// The weights are computed where a search uses them: for eight blocks side by side straight
/// from their transposed lanes (`ScaleSearch8.withLanes`), so a row's weight vector is never
/// written, read back and transposed (those were a sixth of a Q4_1 quantization); as a plain
/// vector only for the K-quants and for what `Quantize.row` leaves after its groups of 8.
///
/// For eight blocks searched side by side, `s2` is per lane: the blocks may come from
/// different rows (a row's last < 8 blocks are searched with other rows', `TailGather`).
package struct RowImportance {
    package let s2: SIMD8<Float>
    package let columns: UnsafePointer<Float>?

    /// One row's weighting.
    package init(s2: Float, columns: UnsafePointer<Float>?) {
        self.init(laneS2: SIMD8(repeating: s2), columns: columns)
    }

    /// Eight blocks', block b with `laneS2[b]`; `columns` laid out like the blocks' values.
    package init(laneS2: SIMD8<Float>, columns: UnsafePointer<Float>?) {
        self.s2 = laneS2
        self.columns = columns
    }

    /// The same weighting from column `k` on.
    @inline(__always) func advanced(by k: Int) -> RowImportance {
        RowImportance(laneS2: s2, columns: columns.map { $0 + k })
    }

    /// √(s2 + x²) for 8 weights, before the column factor (lane b with block b's s2 when the
    /// values are transposed; for a row's own values every lane has the row's s2).
    @inline(__always) func base(_ x: SIMD8<Float>) -> SIMD8<Float> {
        Self.squareRoot(s2 + x * x)
    }

    /// The weights of `n` consecutive values `x` of one row (from this position on) into `w`.
    func weights(_ x: UnsafePointer<Float>, _ n: Int, into w: UnsafeMutablePointer<Float>) {
        var j = 0
        while j + 8 <= n {
            var r = base(UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self))
            if let columns { r *= UnsafeRawPointer(columns + j).loadUnaligned(as: SIMD8<Float>.self) }
            UnsafeMutableRawPointer(w + j).storeBytes(of: r, as: SIMD8<Float>.self)
            j += 8
        }
        while j < n { w[j] = (s2[0] + x[j] * x[j]).squareRoot() * (columns?[j] ?? 1); j += 1 }
    }

    /// √y lane-wise to ~1e-6 relative (y ≥ 0): the inverse-root bit estimate and two Newton
    /// steps. Swift's `SIMD8.squareRoot()` (and the scalar loop) compile to a `vsqrtss` and an
    /// errno branch per lane — a fifth of a Q4_0 quantization.
    @inline(__always) static func squareRoot(_ y: SIMD8<Float>) -> SIMD8<Float> {
        let half = y * 0.5
        var r = unsafeBitCast(SIMD8<UInt32>(repeating: 0x5F37_59DF) &- (unsafeBitCast(y, to: SIMD8<UInt32>.self) &>> 1), to: SIMD8<Float>.self)
        r = r * (1.5 - half * r * r)
        r = r * (1.5 - half * r * r)
        return y * r
    }
}
