/// The activations of a chunk of tokens, each row quantized as `Q8Activation` quantizes one
/// (blocks of 32, d = max|x| / 127, q = round(x / d) clamped to ±127) but stored for the
/// batched kernels: levels as Int16 in position order, row after row, and one f32 scale per
/// block. A NaN activation cannot trap: levels are clamped.
package struct Q8Tokens {
    package static let blockSize = 32
    package let tokens: Int
    package let columns: Int
    package var blocks: Int { columns / Self.blockSize }
    /// [tokens + 3 zero rows][columns]: the kernels read four tokens at a time.
    var levels: [Int16]
    /// [tokens][blocks]
    var scales: [Float]

    /// Whether rows of `columns` values can be quantized this way.
    package static func accepts(_ columns: Int) -> Bool { columns > 0 && columns % blockSize == 0 }

    /// Quantizes `tokens` rows of `columns` (a multiple of 32) starting at `x`. `parallel(n, f)`
    /// may run f(0 ..< n) on several threads (it must return when all are done); each f(j)
    /// quantizes 16 tokens.
    package init(_ x: UnsafePointer<Float>, tokens: Int, columns: Int,
                parallel: (Int, @escaping (Int) -> Void) -> Void = { n, f in for j in 0..<n { f(j) } }) {
        self.tokens = tokens
        self.columns = columns
        let nb = columns / Self.blockSize
        levels = [Int16](repeating: 0, count: (tokens + 3) * columns)
        scales = [Float](repeating: 0, count: tokens * nb)
        levels.withUnsafeMutableBufferPointer { lbuf in
            scales.withUnsafeMutableBufferPointer { sbuf in
                let lp = lbuf.baseAddress!, sp = sbuf.baseAddress!
                parallel((tokens + 15) / 16) { job in
                    for t in (16 * job)..<Swift.min(tokens, 16 * job + 16) {
                        for b in 0..<nb {
                            let (d, l) = Q8Activation.quantizeBlock(UnsafeRawPointer(x + t * columns + Self.blockSize * b))
                            let out = lp + t * columns + Self.blockSize * b
                            for i in 0..<8 {
                                out[i] = Int16(truncatingIfNeeded: l.0[i]); out[8 + i] = Int16(truncatingIfNeeded: l.1[i])
                                out[16 + i] = Int16(truncatingIfNeeded: l.2[i]); out[24 + i] = Int16(truncatingIfNeeded: l.3[i])
                            }
                            sp[t * nb + b] = d
                        }
                    }
                }
            }
        }
    }

    /// The quantized value of token `t` at position `i` (for references and tests).
    package func value(_ t: Int, _ i: Int) -> Float {
        Float(levels[t * columns + i]) * scales[t * blocks + i / Self.blockSize]
    }

    func withBuffers<R>(_ body: (UnsafePointer<Int16>, UnsafePointer<Float>) -> R) -> R {
        levels.withUnsafeBufferPointer { l in scales.withUnsafeBufferPointer { s in body(l.baseAddress!, s.baseAddress!) } }
    }
}
