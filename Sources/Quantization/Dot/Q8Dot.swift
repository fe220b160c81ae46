import TensorCore
#if arch(x86_64) && TRAMONTANE_AVX2
import _Builtin_intrinsics.intel
#endif

/// Integer dot products of one stored weight row with a `Q8Activation`, the way ggml's
/// `vec_dot_*_q8_0` work: per block the 32 weight levels (int8) times the 32 activation levels
/// summed exactly in integers, then scaled by d_w · d_x in f32. A block's 32 products are
/// 16-bit lanes (|w·x| ≤ 128·127, two of them still fit in Int16), widened once to 8 × Int32
/// (each at most 4·128·127 in magnitude). Q5 levels (0…31, or −16…15) stay well inside that.
/// With -target-cpu haswell each block is about twenty AVX2 instructions (vpmullw, vpsraw, …).
/// Each format's kernel is its `BlockFormat.q8Dot` (in `Formats/`); the lane arithmetic they
/// share is here. `scalarDot` is the plain reference.
package enum Q8Dot {
    typealias Lanes = Q8Activation.Lanes
    typealias I32 = SIMD8<Int32>
    typealias V = SIMD8<Float>

    /// The integer kernel of `dtype`'s format, if it has one (`BlockFormat.q8Dot`).
    package static func kernel(_ dtype: DType) -> Q8RowDot? { BlockFormats.format(dtype)?.q8Dot }

    /// Whether `dtype`'s format has an integer kernel.
    package static func supports(_ dtype: DType) -> Bool { kernel(dtype) != nil }

    /// y[o] = Σ W[o, ·]·x for rows `r` of a matrix whose rows start `rowBytes` apart at `base`,
    /// with the kernel of the matrix's format; rows are `a.count` long.
    package static func matvec(_ base: UnsafeRawPointer, rowBytes: Int, rows r: Range<Int>, kernel: Q8RowDot, _ a: Q8Activation,
                              into y: UnsafeMutablePointer<Float>) {
        a.withRow { x in
            for o in r { y[o] = kernel(base + o * rowBytes, x) }
        }
    }

    /// Σ w·x for one row.
    package static func dot(_ row: UnsafeRawPointer, kernel: Q8RowDot, _ a: Q8Activation) -> Float {
        var y: Float = 0
        matvec(row, rowBytes: 0, rows: 0..<1, kernel: kernel, a, into: &y)
        return y
    }

    /// Σ of one block's 32 unsigned levels (each ≤ 127, two per 16-bit lane in position order,
    /// as `nibbles` and `highBits` build them) times activation block `j`, as 8 × Int32 partial
    /// sums (lane k: positions 4k … 4k + 3). AVX2 builds multiply bytes (`vpmaddubsw`,
    /// `vpmaddwd` against `Q8Row.bytes`), others 16-bit lanes (`blockSumUnsigned`): the same
    /// exact integers in the same lanes either way.
    @inline(__always) static func unsignedSum(_ w: Lanes, _ a: Q8Row, _ j: Int) -> I32 {
        #if arch(x86_64) && TRAMONTANE_AVX2
        ByteDot.quads(unsafeBitCast(w, to: SIMD32<UInt8>.self), ByteDot.load(a.bytes + 32 * j))
        #else
        blockSumUnsigned(w, a.lanes[2 * j], a.lanes[2 * j + 1])
        #endif
    }

    /// The same for signed levels (int8, −128 … 127): `vpsignb` then `vpmaddubsw` on AVX2
    /// builds, `blockSum` elsewhere.
    @inline(__always) static func signedSum(_ w: Lanes, _ a: Q8Row, _ j: Int) -> I32 {
        #if arch(x86_64) && TRAMONTANE_AVX2
        ByteDot.widen(ByteDot.signedPairs(unsafeBitCast(w, to: __m256i.self), ByteDot.load(a.bytes + 32 * j)), SIMD16<Int16>(repeating: 1))
        #else
        blockSum(w, a.lanes[2 * j], a.lanes[2 * j + 1])
        #endif
    }

    /// Σ of activation block `j`'s levels in the same 8 lanes (what a minimum multiplies).
    @inline(__always) static func activationSum(_ a: Q8Row, _ j: Int) -> I32 {
        #if arch(x86_64) && TRAMONTANE_AVX2
        ByteDot.quads(SIMD32<UInt8>(repeating: 1), ByteDot.load(a.bytes + 32 * j))
        #else
        pairSums(a.lanes[2 * j] &+ a.lanes[2 * j + 1])
        #endif
    }

    /// Σ over one block: 32 int8 weights (as 16 int16 lanes holding two each) times the
    /// activation's even/odd lanes, as 8 × Int32.
    @inline(__always) static func blockSum(_ w: Lanes, _ even: Lanes, _ odd: Lanes) -> I32 {
        pairSums(((w &<< 8) &>> 8) &* even &+ (w &>> 8) &* odd)
    }

    /// The same for 32 levels in 0…15 (nibbles): no sign extension needed.
    @inline(__always) static func blockSumUnsigned(_ w: Lanes, _ even: Lanes, _ odd: Lanes) -> I32 {
        pairSums((w & 0x00FF) &* even &+ (w &>> 8) &* odd)
    }

    /// The same for 32 five-bit two's-complement levels (−16…15, bit 4 the sign, the upper
    /// three bits of each byte ignored): each byte's low five bits shifted to the top of a
    /// 16-bit lane and arithmetically back. A pair of products is at most 2·16·127 in magnitude.
    @inline(__always) static func blockSumFiveBitSigned(_ w: Lanes, _ even: Lanes, _ odd: Lanes) -> I32 {
        pairSums(((w &<< 11) &>> 11) &* even &+ ((w &<< 3) &>> 11) &* odd)
    }

    /// Adjacent pairs of 16-bit lanes summed into 8 × Int32.
    @inline(__always) static func pairSums(_ p: Lanes) -> I32 {
        let v = unsafeBitCast(p, to: I32.self)
        return ((v &<< 16) &>> 16) &+ (v &>> 16)
    }

    /// 32 nibbles (16 bytes: low nibbles are weights 0…15, high nibbles 16…31) as levels
    /// 0…15, packed two per int16 lane.
    /// Masks and shifts in 16-bit lanes: on byte lanes Swift emits them element by element.
    @inline(__always) static func nibbles(_ p: UnsafeRawPointer) -> Lanes {
        let v = p.loadUnaligned(as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD16<UInt16>(lowHalf: v & 0x0F0F, highHalf: (v &>> 4) & 0x0F0F), to: Lanes.self)
    }

    /// Q5's 32 high bits (bit j = bit 4 of weight j) as 0x10 in byte j, in the byte order of
    /// `nibbles`, so OR-ing the two gives the 5-bit levels. 16-bit lane i holds weights 2i, 2i+1:
    /// the half of qh with their bits in every lane of its half (vpshuflw, vpermd), then each bit
    /// tested against its own mask (vpand, vpcmpeqw). Shifting qh by a different amount per lane
    /// (vpsrlvd) would be shorter, but LLVM splits shifts of a broadcast value into scalar ones.
    @inline(__always) static func highBits(_ qh: UInt32) -> Lanes {
        typealias U = SIMD16<UInt16>
        let h = U(lowHalf: SIMD8(repeating: UInt16(truncatingIfNeeded: qh)), highHalf: SIMD8(repeating: UInt16(truncatingIfNeeded: qh >> 16)))
        let even = U(1, 4, 16, 64, 256, 1024, 4096, 16384, 1, 4, 16, 64, 256, 1024, 4096, 16384), odd = even &<< 1
        let low = U().replacing(with: 0x0010, where: (h & even) .== even)
        let high = U().replacing(with: 0x1000, where: (h & odd) .== odd)
        return unsafeBitCast(low | high, to: Lanes.self)
    }

    /// The plain reference: the row decoded to f32 times the activation's decoded values,
    /// summed in order in Double.
    package static func scalarDot(_ row: UnsafeRawPointer, dtype: DType, _ a: Q8Activation) throws -> Float {
        var w = [Float](repeating: 0, count: a.count)
        try w.withUnsafeMutableBufferPointer { out in
            try Dequantize.toFloat(UnsafeRawBufferPointer(start: row, count: try dtype.rowBytes(a.count)), dtype: dtype, into: out)
        }
        var s: Double = 0
        for i in 0..<a.count { s += Double(w[i]) * Double(a.value(i)) }
        return Float(s)
    }
}
