#if arch(x86_64) && TRAMONTANE_AVX2
import _Builtin_intrinsics.intel

/// Byte-lane products for the AVX2 kernels, the way ggml's x86 kernels multiply: weight levels
/// as unsigned bytes times the activation's int8 levels (`Q8Row.bytes`, 32 per block) with
/// `vpmaddubsw` (adjacent pairs summed into int16 lanes, saturating: callers keep
/// |2·u·s| ≤ 32767, e.g. u ≤ 127 against |s| ≤ 127), then `vpmaddwd` (pairs of those into int32,
/// optionally each multiplied by a 16-bit factor). Exact integers throughout, so a kernel built on
/// these gives the same block sums as its lane twin; only the float accumulation order differs.
enum ByteDot {
    typealias I32 = SIMD8<Int32>
    typealias I16 = SIMD16<Int16>
    typealias V = SIMD8<Float>

    /// The 32 activation levels at `p` (one block).
    @inline(__always) static func load(_ p: UnsafePointer<Int8>) -> __m256i {
        unsafeBitCast(UnsafeRawPointer(p).loadUnaligned(as: SIMD32<Int8>.self), to: __m256i.self)
    }

    /// u[2k]·s[2k] + u[2k+1]·s[2k+1] in 16 int16 lanes (`vpmaddubsw`).
    @inline(__always) static func pairs(_ u: SIMD32<UInt8>, _ s: __m256i) -> __m256i {
        _mm256_maddubs_epi16(unsafeBitCast(u, to: __m256i.self), s)
    }

    /// Adjacent int16 lanes times `factor` lane by lane, pairs summed into 8 int32 (`vpmaddwd`).
    @inline(__always) static func widen(_ p: __m256i, _ factor: I16) -> I32 {
        unsafeBitCast(_mm256_madd_epi16(p, unsafeBitCast(factor, to: __m256i.self)), to: I32.self)
    }

    /// Σ over each 4 adjacent bytes of u·s, as 8 int32 (their sum is the block's dot product).
    @inline(__always) static func quads(_ u: SIMD32<UInt8>, _ s: __m256i) -> I32 {
        widen(pairs(u, s), I16(repeating: 1))
    }

    /// The int32 lanes as floats (`vcvtdq2ps`).
    @inline(__always) static func float(_ v: I32) -> V {
        _mm256_cvtepi32_ps(unsafeBitCast(v, to: __m256i.self))
    }

    /// a − b in 16 int16 lanes (wrapping; callers keep the difference in range).
    @inline(__always) static func subtract(_ a: __m256i, _ b: __m256i) -> __m256i {
        _mm256_sub_epi16(a, b)
    }

    /// |w| and x with w's sign, byte by byte (`vpsignb`): a signed × signed product as
    /// unsigned × signed for `pairs` (w = −128 gives 128, still in range against |x| ≤ 127).
    @inline(__always) static func signedPairs(_ w: __m256i, _ x: __m256i) -> __m256i {
        _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w))
    }
}
#endif
