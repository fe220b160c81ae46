#if arch(x86_64) && TRAMONTANE_AVX2
import _Builtin_intrinsics.intel

/// Byte-lane products for AVX2 builds (`Q8Dot.unsignedSum`, `signedSum`, `activationSum`), the
/// way ggml's x86 kernels multiply: weight levels as unsigned bytes times the activation's int8
/// levels (`Q8Row.bytes`, 32 per block) with `vpmaddubsw` (adjacent pairs summed into int16
/// lanes, saturating: |u·s| ≤ 128·127 keeps a pair in range), then `vpmaddwd` (pairs of those
/// into int32). Exact integers, in the lanes the 16-bit lane forms put them.
enum ByteDot {
    typealias I32 = SIMD8<Int32>
    typealias I16 = SIMD16<Int16>

    /// The 32 activation levels at `p` (one block).
    @inline(__always) static func load(_ p: UnsafePointer<Int8>) -> __m256i {
        unsafeBitCast(UnsafeRawPointer(p).loadUnaligned(as: SIMD32<Int8>.self), to: __m256i.self)
    }

    /// Adjacent int16 lanes times `factor` lane by lane, pairs summed into 8 int32 (`vpmaddwd`).
    @inline(__always) static func widen(_ p: __m256i, _ factor: I16) -> I32 {
        unsafeBitCast(_mm256_madd_epi16(p, unsafeBitCast(factor, to: __m256i.self)), to: I32.self)
    }

    /// (u − offset)·x in adjacent-pair int16 lanes, for unsigned levels u (bytes below 64) and the
    /// level offset as 32 equal bytes: u·x and offset·x through `vpmaddubsw`, subtracted — the
    /// offset applied without making the levels signed bytes (Q3_K's 4, Q6_K's 32).
    @inline(__always) static func offsetPairs(_ u: SIMD16<UInt16>, _ x: __m256i, offset: __m256i) -> __m256i {
        _mm256_sub_epi16(_mm256_maddubs_epi16(unsafeBitCast(u, to: __m256i.self), x), _mm256_maddubs_epi16(offset, x))
    }

    /// Two 16-weight sub-blocks' scales as `widen`'s factor: lanes 0–7 (weights 0…15) `first`,
    /// lanes 8–15 `second`.
    @inline(__always) static func halves(_ first: Int16, _ second: Int16) -> I16 {
        I16(lowHalf: SIMD8(repeating: first), highHalf: SIMD8(repeating: second))
    }

    /// Σ over each 4 adjacent bytes of u·s, as 8 int32 (their sum is the block's dot product).
    @inline(__always) static func quads(_ u: SIMD32<UInt8>, _ s: __m256i) -> I32 {
        widen(_mm256_maddubs_epi16(unsafeBitCast(u, to: __m256i.self), s), I16(repeating: 1))
    }

    /// |w| and x with w's sign, byte by byte (`vpsignb`): a signed × signed product as
    /// unsigned × signed for `vpmaddubsw` (w = −128 gives 128, still in range against |x| ≤ 127).
    @inline(__always) static func signedPairs(_ w: __m256i, _ x: __m256i) -> __m256i {
        _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w))
    }
}
#endif
