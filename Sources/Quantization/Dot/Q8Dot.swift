import TensorCore

/// Integer dot products of one stored weight row with a `Q8Activation`, the way ggml's
/// `vec_dot_*_q8_0` work: per block the 32 weight levels (int8) times the 32 activation levels
/// summed exactly in integers, then scaled by d_w · d_x in f32. A block's 32 products are
/// 16-bit lanes (|w·x| ≤ 128·127, two of them still fit in Int16), widened once to 8 × Int32
/// (each at most 4·128·127 in magnitude).
/// With -target-cpu haswell each block is about twenty AVX2 instructions (vpmullw, vpsraw, …).
/// `scalarDot` is the plain reference.
public enum Q8Dot {
    typealias Lanes = Q8Activation.Lanes
    typealias I32 = SIMD8<Int32>
    typealias V = SIMD8<Float>

    /// The formats with an integer kernel here (rows of whole 32-weight blocks).
    public static func supports(_ dtype: DType) -> Bool { [.q8_0, .q4_0, .q4_1, .q4_k, .q6_k].contains(dtype) }

    /// y[o] = Σ W[o, ·]·x for rows `r` of a matrix whose rows start `rowBytes` apart at `base`;
    /// the dtype must be one `supports` accepts and rows `a.count` long.
    public static func matvec(_ base: UnsafeRawPointer, rowBytes: Int, rows r: Range<Int>, dtype: DType, _ a: Q8Activation,
                              into y: UnsafeMutablePointer<Float>) {
        a.withBuffers { lanes, scales, sums in
            let nb = a.blocks
            switch dtype {
            case .q8_0: for o in r { y[o] = q8_0(base + o * rowBytes, lanes, scales, nb) }
            case .q4_0: for o in r { y[o] = q4_0(base + o * rowBytes, lanes, scales, sums, nb) }
            case .q4_k: for o in r { y[o] = q4_k(base + o * rowBytes, lanes, scales, sums, nb) }
            case .q6_k: for o in r { y[o] = q6_k(base + o * rowBytes, lanes, scales, nb) }
            default: for o in r { y[o] = q4_1(base + o * rowBytes, lanes, scales, sums, nb) }
            }
        }
    }

    /// Σ w·x for one row.
    public static func dot(_ row: UnsafeRawPointer, dtype: DType, _ a: Q8Activation) -> Float {
        var y: Float = 0
        matvec(row, rowBytes: 0, rows: 0..<1, dtype: dtype, a, into: &y)
        return y
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

    static func q8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Lanes>, _ d: UnsafePointer<Float>, _ blocks: Int) -> Float {
        RowDot.sumOfBlocks(blocks) { b in
            let blk = w + 34 * b
            let s = blockSum(blk.loadUnaligned(fromByteOffset: 2, as: Lanes.self), x[2 * b], x[2 * b + 1])
            return ExactIntegers.float(s) * V(repeating: loadHalf(blk, 0) * d[b])
        }.sum()
    }

    /// Q4_0: w = d·(q − 8), so Σ w·x = d·d_x·Σ q·q_x − 8·d·(d_x·Σ q_x).
    static func q4_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Lanes>, _ d: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, _ blocks: Int) -> Float {
        var offsets: Float = 0
        let s = RowDot.sumOfBlocks(blocks) { b in
            let blk = w + 18 * b
            let dw = loadHalf(blk, 0)
            offsets += dw * sums[b]
            return ExactIntegers.float(blockSumUnsigned(nibbles(blk + 2), x[2 * b], x[2 * b + 1])) * V(repeating: dw * d[b])
        }
        return s.sum() - 8 * offsets
    }

    /// Q4_1: w = d·q + m, so Σ w·x = d·d_x·Σ q·q_x + m·(d_x·Σ q_x).
    static func q4_1(_ w: UnsafeRawPointer, _ x: UnsafePointer<Lanes>, _ d: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, _ blocks: Int) -> Float {
        var minimums: Float = 0
        let s = RowDot.sumOfBlocks(blocks) { b in
            let blk = w + 20 * b
            minimums += loadHalf(blk, 2) * sums[b]
            return ExactIntegers.float(blockSumUnsigned(nibbles(blk + 4), x[2 * b], x[2 * b + 1])) * V(repeating: loadHalf(blk, 0) * d[b])
        }
        return s.sum() + minimums
    }

    /// Q4_K: in sub-block j (32 weights) w = d·sc_j·q − dmin·m_j, so Σ w·x = d·sc_j·d_x·Σ q·q_x
    /// − dmin·m_j·(d_x·Σ q_x). A chunk of 32 bytes holds sub-block 2c in its low nibbles and
    /// 2c + 1 in its high ones, each already two levels per 16-bit lane. A row that is not a
    /// multiple of 256 ends in Q4_1 blocks (`DType.tailType`).
    static func q4_k(_ w: UnsafeRawPointer, _ x: UnsafePointer<Lanes>, _ d: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, _ blocks: Int) -> Float {
        let superBlocks = blocks / 8
        // Two accumulators with fused multiply-adds (one chain of dependent adds held the loop
        // back), and the eight sub-blocks' scale factors d·sc_j·d_x and minimum terms
        // dmin·m_j·(d_x·Σq_x) computed as vectors, once per super-block.
        var acc = V(), acc2 = V(), minimums = V()
        for sb in 0..<superBlocks {
            let blk = w + 144 * sb
            let (sc, mn) = BlockQ4_K.scalesAndMins(blk + 4)
            let dr = UnsafeRawPointer(d + 8 * sb), sr = UnsafeRawPointer(sums + 8 * sb)
            let f = V(repeating: loadHalf(blk, 0)) * sc * dr.loadUnaligned(as: V.self)
            minimums.addProduct(V(repeating: loadHalf(blk, 2)) * mn, sr.loadUnaligned(as: V.self))
            for c in 0..<4 {
                // In 16-bit lanes (byte-lane shifts and masks are element-by-element loops in Swift).
                let v = blk.loadUnaligned(fromByteOffset: 16 + 32 * c, as: SIMD16<UInt16>.self)
                let lo = unsafeBitCast(v & 0x0F0F, to: Lanes.self), hi = unsafeBitCast((v &>> 4) & 0x0F0F, to: Lanes.self)
                let j = 8 * sb + 2 * c
                acc.addProduct(ExactIntegers.float(blockSumUnsigned(lo, x[2 * j], x[2 * j + 1])), V(repeating: f[2 * c]))
                acc2.addProduct(ExactIntegers.float(blockSumUnsigned(hi, x[2 * j + 2], x[2 * j + 3])), V(repeating: f[2 * c + 1]))
            }
        }
        var total = (acc + acc2).sum() - minimums.sum()
        let done = 8 * superBlocks
        if blocks > done { total += q4_1(w + 144 * superBlocks, x + 2 * done, d + done, sums + done, blocks - done) }
        return total
    }

    /// Q6_K: w = d·sc·(q − 32) with an int8 scale per 16 weights. Each group of 32 outputs of a
    /// 128-weight half is one activation block: levels q (0…63) from 4 low bits in `ql` and 2
    /// high bits in `qh`, made signed bytes (q − 32) with a borrow-free per-byte subtraction in
    /// 16-bit lanes; the block's 8 Int32 partial sums are weights 0…15 (lanes 0–3) and 16…31
    /// (lanes 4–7), scaled by their two sub-scales. Rows that are not a multiple of 256 end in
    /// Q8_0 blocks.
    static func q6_k(_ w: UnsafeRawPointer, _ x: UnsafePointer<Lanes>, _ d: UnsafePointer<Float>, _ blocks: Int) -> Float {
        typealias U = SIMD16<UInt16>
        let superBlocks = blocks / 8
        var acc = V()
        @inline(__always) func signed(_ u: U) -> Lanes {
            let high = U(repeating: 0x8080)
            return unsafeBitCast(((u | high) &- U(repeating: 0x2020)) ^ high, to: Lanes.self)
        }
        for sb in 0..<superBlocks {
            let blk = w + 210 * sb
            let dw = loadHalf(blk, 208)
            for half in 0..<2 {
                let ql = blk + 64 * half, qh = blk + 128 + 32 * half, sc = blk + 192 + 8 * half
                let lo0 = ql.loadUnaligned(as: U.self), lo1 = ql.loadUnaligned(fromByteOffset: 32, as: U.self)
                let h = qh.loadUnaligned(as: U.self)
                let m4 = U(repeating: 0x0F0F), m2 = U(repeating: 0x0303)
                let h0: U = (h & m2) &<< 4, h1: U = ((h &>> 2) & m2) &<< 4
                let h2: U = ((h &>> 4) & m2) &<< 4, h3: U = ((h &>> 6) & m2) &<< 4
                let g0: U = (lo0 & m4) | h0, g1: U = (lo1 & m4) | h1
                let g2: U = ((lo0 &>> 4) & m4) | h2, g3: U = ((lo1 &>> 4) & m4) | h3
                for g in 0..<4 {
                    let j = 8 * sb + 4 * half + g
                    let q: U = g == 0 ? g0 : g == 1 ? g1 : g == 2 ? g2 : g3
                    let s = blockSum(signed(q), x[2 * j], x[2 * j + 1])
                    let f = dw * d[j]
                    let scale = V(lowHalf: SIMD4(repeating: f * Float(sc.load(fromByteOffset: 2 * g, as: Int8.self))),
                                  highHalf: SIMD4(repeating: f * Float(sc.load(fromByteOffset: 2 * g + 1, as: Int8.self))))
                    acc += ExactIntegers.float(s) * scale
                }
            }
        }
        var total = acc.sum()
        let done = 8 * superBlocks
        if blocks > done { total += q8_0(w + 210 * superBlocks, x + 2 * done, d + done, blocks - done) }
        return total
    }

    /// The plain reference: the row decoded to f32 times the activation's decoded values,
    /// summed in order in Double.
    public static func scalarDot(_ row: UnsafeRawPointer, dtype: DType, _ a: Q8Activation) -> Float {
        var w = [Float](repeating: 0, count: a.count)
        w.withUnsafeMutableBufferPointer { out in
            try? Dequantize.toFloat(UnsafeRawBufferPointer(start: row, count: (try? dtype.rowBytes(a.count)) ?? 0), dtype: dtype, into: out)
        }
        var s: Double = 0
        for i in 0..<a.count { s += Double(w[i]) * Double(a.value(i)) }
        return Float(s)
    }
}
