import TensorCore

/// Q4_0 weights times a chunk of tokens (prompt processing) in integers: the batched
/// counterpart of `PackedQ4_0.matvec`. For each group of 32 rows (or a matrix's last 16), a
/// stretch of 256 columns at a time is unpacked once into signed 16-bit levels (q − 8,
/// position-major: 32 rows per column, 16 KiB, in L1) and then multiplied with four tokens at
/// a time: per column, two level vectors times each token's level broadcast, `vpmullw` +
/// `vpaddw` into 16-bit sums — a block's 32 products stay within ±32 512 — then per block one
/// widening and one FMA with d_w·d_x per 8 rows. Twice the multiply-adds per instruction of
/// f32 FMAs, and no dequantized panels or BLAS repacking (Benchmarks/README.md has the prompt
/// speeds). `Q4_0TokenGEMMTests` checks it against the dequantized product.
extension PackedQ4_0 {
    /// The kernel works on groups of this many rows (a matrix's last 16 rows may be a half group).
    package static let tokenGEMMRows = 32
    static let chunkBlocks = 8

    /// Whether `multiply` accepts this matrix: every repacked one (whole 16-row groups).
    package var acceptsTokenGEMM: Bool { rows % 16 == 0 }

    /// y[t · stride + o] = Σ W[o, ·] · a[t, ·] for rows o in `r` and every token of `a`; `r`
    /// starts at a multiple of 32 and ends at one or at the matrix's last row.
    package func multiply(_ a: Q8Tokens, rows r: Range<Int>, into y: UnsafeMutablePointer<Float>, stride: Int) {
        typealias I16 = SIMD16<Int16>
        typealias I32 = SIMD8<Int32>
        typealias V = SIMD8<Float>
        let nb = blocks, K = columns, T = a.tokens
        let span = Self.chunkBlocks * 32
        a.withBuffers { xq, xs in
            withUnsafeTemporaryAllocation(of: I16.self, capacity: 2 * span + 16) { buf in
                let w = buf.baseAddress!      // [column in chunk][2 halves of 16 rows]
                let f = w + 2 * span          // 16 float accumulators (as 8 I16-sized slots each)
                let acc = UnsafeMutableRawPointer(f).assumingMemoryBound(to: V.self)
                var row0 = r.lowerBound
                while row0 < r.upperBound {
                    // A whole group of 32 rows (packed groups 2g, 2g + 1) or the last 16 (2g only).
                    let g = row0 / 32, pair = row0 + 32 <= r.upperBound
                    row0 += pair ? 32 : 16
                    for c in Swift.stride(from: 0, to: nb, by: Self.chunkBlocks) {
                        let cb = Swift.min(Self.chunkBlocks, nb - c)
                        // Unpack: lane r of packed vector jj holds w[2jj], w[2jj+16], w[2jj+1], w[2jj+17].
                        for b in 0..<cb {
                            for half in 0..<(pair ? 2 : 1) {
                                let l = levels(2 * g + half, c + b)
                                let base = w + 2 * 32 * b + half
                                for jj in 0..<8 {
                                    let v = l[jj]
                                    let eight = I16(repeating: 8)
                                    base[2 * (2 * jj)] = unsafeBitCast(v & 0x000F, to: I16.self) &- eight
                                    base[2 * (2 * jj + 16)] = unsafeBitCast((v &>> 4) & 0x000F, to: I16.self) &- eight
                                    base[2 * (2 * jj + 1)] = unsafeBitCast((v &>> 8) & 0x000F, to: I16.self) &- eight
                                    base[2 * (2 * jj + 17)] = unsafeBitCast(v &>> 12, to: I16.self) &- eight
                                }
                            }
                        }
                        var t = 0
                        while t < T {
                            // Tokens past the end read the zero rows after the last one.
                            let x0 = xq + t * K + 32 * c, x1 = x0 + K, x2 = x1 + K, x3 = x2 + K
                            for i in 0..<16 { acc[i] = V() }
                            for b in 0..<cb where !pair {
                                // The half group: the same, one level vector per column.
                                var a0 = I16(), a1 = I16(), a2 = I16(), a3 = I16()
                                var wp = UnsafeRawPointer(w + 2 * 32 * b)
                                for k in (32 * b)..<(32 * b + 32) {
                                    let w0 = wp.load(as: I16.self)
                                    wp += 64
                                    a0 &+= w0 &* I16(repeating: x0[k]); a1 &+= w0 &* I16(repeating: x1[k])
                                    a2 &+= w0 &* I16(repeating: x2[k]); a3 &+= w0 &* I16(repeating: x3[k])
                                }
                                let s = UnsafeRawPointer(scales(2 * g, c + b))
                                let se = s.load(as: V.self), so = s.load(fromByteOffset: 32, as: V.self)
                                @inline(__always) func add(_ i: Int, _ lo: I16) {
                                    let d = V(repeating: t + i < T ? xs[(t + i) * nb + c + b] : 0)
                                    let l = unsafeBitCast(lo, to: I32.self)
                                    acc[4 * i].addProduct(ExactIntegers.float((l &<< 16) &>> 16), se * d)
                                    acc[4 * i + 1].addProduct(ExactIntegers.float(l &>> 16), so * d)
                                }
                                add(0, a0); add(1, a1); add(2, a2); add(3, a3)
                            }
                            for b in 0..<cb where pair {
                                var a00 = I16(), a01 = I16(), a10 = I16(), a11 = I16()
                                var a20 = I16(), a21 = I16(), a30 = I16(), a31 = I16()
                                var wp = UnsafeRawPointer(w + 2 * 32 * b)
                                for k in (32 * b)..<(32 * b + 32) {
                                    let w0 = wp.load(as: I16.self), w1 = wp.load(fromByteOffset: 32, as: I16.self)
                                    wp += 64
                                    let b0 = I16(repeating: x0[k]), b1 = I16(repeating: x1[k])
                                    let b2 = I16(repeating: x2[k]), b3 = I16(repeating: x3[k])
                                    a00 &+= w0 &* b0; a01 &+= w1 &* b0
                                    a10 &+= w0 &* b1; a11 &+= w1 &* b1
                                    a20 &+= w0 &* b2; a21 &+= w1 &* b2
                                    a30 &+= w0 &* b3; a31 &+= w1 &* b3
                                }
                                // Scales in the packed order: even rows, then odd rows, per 16.
                                let s = UnsafeRawPointer(scales(2 * g, c + b)), s2 = UnsafeRawPointer(scales(2 * g + 1, c + b))
                                let se0 = s.load(as: V.self), so0 = s.load(fromByteOffset: 32, as: V.self)
                                let se1 = s2.load(as: V.self), so1 = s2.load(fromByteOffset: 32, as: V.self)
                                @inline(__always) func add(_ i: Int, _ lo: I16, _ hi: I16) {
                                    let dx = t + i < T ? xs[(t + i) * nb + c + b] : 0
                                    let d = V(repeating: dx)
                                    let l = unsafeBitCast(lo, to: I32.self), h = unsafeBitCast(hi, to: I32.self)
                                    acc[4 * i].addProduct(ExactIntegers.float((l &<< 16) &>> 16), se0 * d)
                                    acc[4 * i + 1].addProduct(ExactIntegers.float(l &>> 16), so0 * d)
                                    acc[4 * i + 2].addProduct(ExactIntegers.float((h &<< 16) &>> 16), se1 * d)
                                    acc[4 * i + 3].addProduct(ExactIntegers.float(h &>> 16), so1 * d)
                                }
                                add(0, a00, a01); add(1, a10, a11); add(2, a20, a21); add(3, a30, a31)
                            }
                            // The first stretch stores, the others add (no separate zeroing pass).
                            let first = c == 0
                            for i in 0..<Swift.min(4, T - t) {
                                let out = y + (t + i) * stride + 32 * g
                                for j in 0..<8 {
                                    out[2 * j] = (first ? 0 : out[2 * j]) + acc[4 * i][j]
                                    out[2 * j + 1] = (first ? 0 : out[2 * j + 1]) + acc[4 * i + 1][j]
                                }
                                if pair {
                                    for j in 0..<8 {
                                        out[16 + 2 * j] = (first ? 0 : out[16 + 2 * j]) + acc[4 * i + 2][j]
                                        out[17 + 2 * j] = (first ? 0 : out[17 + 2 * j]) + acc[4 * i + 3][j]
                                    }
                                }
                            }
                            t += 4
                        }
                    }
                }
            }
        }
    }
}
