import TensorCore
#if arch(x86_64) && TRAMONTANE_AVX2
import _Builtin_intrinsics.intel
#endif

/// Q4_0 rows repacked sixteen at a time for decoding, so one SIMD lane is one row and no dot
/// product needs a horizontal sum (the idea of ggml's `q4_0_8x8` repacking).
///
/// For each group of 16 rows and each 32-weight block, one 320-byte chunk (the chunks in order,
/// one stream for the prefetcher): 8 vectors of 16 UInt16 lanes, lane r holding four levels of
/// row r: w[j] | w[j+16] << 4 | w[j+1] << 8 | w[j+17] << 12 for j = 0, 2, … 14; then the 16
/// scales as f32 (even rows, then odd rows: the order the widening below produces).
/// A block then costs, for 16 rows at once, 8 loads, shifts and masks to pull the levels out,
/// and one 16-bit multiply-add per level against the activation level broadcast — partial sums
/// fit Int16 (16 products of at most 15·127) — then one widening and one FMA per 8 rows. The
/// offset of 8 is taken out once per block: Σ (q − 8)·x = Σ q·x − 8·Σ x.
///
/// The same bytes as the Q4_0 rows, so repacking costs no extra memory once the mapped
/// originals are dropped. `dequantize` decodes the packed rows for the batched (prompt) path.
package struct PackedQ4_0: @unchecked Sendable {
    package typealias Lanes = SIMD16<UInt16>
    package let rows: Int
    package let columns: Int
    var blocks: Int { columns / 32 }
    /// [group][block] chunks of 8 level vectors and 16 f32 scales.
    let chunks: UnsafeMutableRawPointer
    static let chunkBytes = 8 * 32 + 16 * 4
    @inline(__always) func levels(_ g: Int, _ b: Int) -> UnsafeMutablePointer<Lanes> {
        (chunks + (g * blocks + b) * Self.chunkBytes).assumingMemoryBound(to: Lanes.self)
    }
    @inline(__always) func scales(_ g: Int, _ b: Int) -> UnsafeMutablePointer<Float> {
        (chunks + (g * blocks + b) * Self.chunkBytes + 256).assumingMemoryBound(to: Float.self)
    }
    private let owner: AnonymousMapping

    /// Whether a [rows, columns] Q4_0 matrix can be repacked (whole groups and blocks).
    package static func accepts(rows: Int, columns: Int) -> Bool { rows > 0 && rows % 16 == 0 && columns > 0 && columns % 32 == 0 }

    /// Repacks `rows` Q4_0 rows of `columns` weights stored from `base` (18 bytes per block).
    /// Nil if the memory for the copy cannot be had. Matrices of one model share `arena`.
    package init?(_ base: UnsafeRawPointer, rows: Int, columns: Int, arena: LargeBufferArena = LargeBufferArena()) {
        self.rows = rows
        self.columns = columns
        let nb = columns / 32, groups = rows / 16
        guard let (memory, buffer) = arena.allocate(groups * nb * Self.chunkBytes) else { return nil }
        owner = buffer
        chunks = memory
        let rowBytes = nb * 18
        for g in 0..<groups {
            for b in 0..<nb {
                let s = scales(g, b)
                let l = levels(g, b)
                for r in 0..<16 {
                    let blk = base + (16 * g + r) * rowBytes + 18 * b
                    s[(r & 1) * 8 + r / 2] = Float(Float16(bitPattern: blk.loadUnaligned(as: UInt16.self)))
                }
                for jj in 0..<8 {
                    var v = Lanes()
                    for r in 0..<16 {
                        let q = base + (16 * g + r) * rowBytes + 18 * b + 2
                        let lo = q.load(fromByteOffset: 2 * jj, as: UInt8.self), hi = q.load(fromByteOffset: 2 * jj + 1, as: UInt8.self)
                        // w[j] = lo & 15, w[j+16] = lo >> 4, w[j+1] = hi & 15, w[j+17] = hi >> 4
                        v[r] = UInt16(lo) | UInt16(hi) << 8
                    }
                    l[jj] = v
                }
            }
        }
    }

    /// y[o] = Σ W[o, ·]·x for the rows of groups `groups` (rows 16·g … 16·g + 15).
    package func matvec(_ a: Q8Activation, groups: Range<Int>, into y: UnsafeMutablePointer<Float>) {
        #if arch(x86_64) && TRAMONTANE_AVX2
        matvecBytes(a, groups: groups, into: y)
        #else
        matvecLanes(a, groups: groups, into: y)
        #endif
    }

    #if arch(x86_64) && TRAMONTANE_AVX2
    /// `matvecLanes` multiplying bytes: masking a level vector with 0x0F0F leaves, in each row's
    /// 16-bit lane, the bytes w[j], w[j+1], which one `vpmaddubsw` against the activation's pair
    /// x[j], x[j+1] (broadcast) turns into that row's two products summed; the high nibbles the
    /// same against x[j+16], x[j+17]. Eight such pairs per block stay within Int16 (16·15·127).
    func matvecBytes(_ a: Q8Activation, groups: Range<Int>, into y: UnsafeMutablePointer<Float>) {
        typealias I32 = SIMD8<Int32>
        typealias V = SIMD8<Float>
        let nb = blocks
        a.withRow { x in
            let pairs = UnsafeRawPointer(x.bytes)
            for g in groups {
                var even = V(), odd = V()
                for b in 0..<nb {
                    let l = levels(g, b)
                    var lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256()
                    for jj in 0..<8 {
                        let v = l[jj]
                        let xl = SIMD16<UInt16>(repeating: pairs.loadUnaligned(fromByteOffset: 32 * b + 2 * jj, as: UInt16.self))
                        let xh = SIMD16<UInt16>(repeating: pairs.loadUnaligned(fromByteOffset: 32 * b + 16 + 2 * jj, as: UInt16.self))
                        lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(unsafeBitCast(v & 0x0F0F, to: __m256i.self), unsafeBitCast(xl, to: __m256i.self)))
                        hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(unsafeBitCast((v &>> 4) & 0x0F0F, to: __m256i.self), unsafeBitCast(xh, to: __m256i.self)))
                    }
                    let sl = unsafeBitCast(lo, to: I32.self), sh = unsafeBitCast(hi, to: I32.self)
                    let se = ((sl &<< 16) &>> 16) &+ ((sh &<< 16) &>> 16)   // rows 0, 2, … 14
                    let so = (sl &>> 16) &+ (sh &>> 16)                     // rows 1, 3, … 15
                    let s = UnsafeRawPointer(scales(g, b))
                    let d = V(repeating: x.scales[b]), off = V(repeating: 8 * x.sums[b])
                    even.addProduct(s.load(as: V.self), ExactIntegers.float(se) * d - off)
                    odd.addProduct(s.load(fromByteOffset: 32, as: V.self), ExactIntegers.float(so) * d - off)
                }
                for i in 0..<8 {
                    y[16 * g + 2 * i] = even[i]
                    y[16 * g + 2 * i + 1] = odd[i]
                }
            }
        }
    }
    #endif

    /// `matvec` in 16-bit lanes: each level times the activation level broadcast.
    func matvecLanes(_ a: Q8Activation, groups: Range<Int>, into y: UnsafeMutablePointer<Float>) {
        typealias I16 = SIMD16<Int16>
        typealias I32 = SIMD8<Int32>
        typealias V = SIMD8<Float>
        let nb = blocks
        a.withBuffers { lanes, dx, sums in
            // The activation's levels as Int16, position order within each block's even/odd halves.
            let xq = UnsafeRawPointer(lanes).assumingMemoryBound(to: Int16.self)
            for g in groups {
                var even = V(), odd = V()
                for b in 0..<nb {
                    let l = levels(g, b)
                    let xe = xq + 32 * b, xo = xe + 16   // even positions 0,2,…30; odd 1,3,…31
                    var lo = I16(), hi = I16()
                    for jj in 0..<8 {
                        let v = l[jj]
                        let w0 = unsafeBitCast(v & 0x000F, to: I16.self)           // w[2jj]
                        let w1 = unsafeBitCast((v &>> 4) & 0x000F, to: I16.self)   // w[2jj+16]
                        let w2 = unsafeBitCast((v &>> 8) & 0x000F, to: I16.self)   // w[2jj+1]
                        let w3 = unsafeBitCast(v &>> 12, to: I16.self)             // w[2jj+17]
                        lo &+= w0 &* I16(repeating: xe[jj]) &+ w2 &* I16(repeating: xo[jj])
                        hi &+= w1 &* I16(repeating: xe[8 + jj]) &+ w3 &* I16(repeating: xo[8 + jj])
                    }
                    let sl = unsafeBitCast(lo, to: I32.self), sh = unsafeBitCast(hi, to: I32.self)
                    let se = ((sl &<< 16) &>> 16) &+ ((sh &<< 16) &>> 16)   // rows 0, 2, … 14
                    let so = (sl &>> 16) &+ (sh &>> 16)                     // rows 1, 3, … 15
                    let s = UnsafeRawPointer(scales(g, b))
                    let d = V(repeating: dx[b]), off = V(repeating: 8 * sums[b])
                    even.addProduct(s.load(as: V.self), ExactIntegers.float(se) * d - off)
                    odd.addProduct(s.load(fromByteOffset: 32, as: V.self), ExactIntegers.float(so) * d - off)
                }
                for i in 0..<8 {
                    y[16 * g + 2 * i] = even[i]
                    y[16 * g + 2 * i + 1] = odd[i]
                }
            }
        }
    }

    /// Decodes rows `r` (whole groups) into `out`, row-major f32.
    package func dequantize(rows r: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let nb = blocks
        for row in r {
            let g = row / 16, lane = row % 16
            let o = out + (row - r.lowerBound) * columns
            for b in 0..<nb {
                let d = scales(g, b)[(lane & 1) * 8 + lane / 2]
                let l = levels(g, b)
                for jj in 0..<8 {
                    let v = l[jj][lane]
                    o[32 * b + 2 * jj] = Float(Int(v & 15) - 8) * d
                    o[32 * b + 2 * jj + 16] = Float(Int((v >> 4) & 15) - 8) * d
                    o[32 * b + 2 * jj + 1] = Float(Int((v >> 8) & 15) - 8) * d
                    o[32 * b + 2 * jj + 17] = Float(Int(v >> 12) - 8) * d
                }
            }
        }
    }
}
