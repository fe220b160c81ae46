/// Int32 ↔ Float for small integers in 8 lanes, through the bits of 2²³ + 2²² + v (exact for
/// |v| < 2²²). Swift emits its generic SIMD conversions (`SIMD8<Float>(SIMD8<Int32>)` and back)
/// as out-of-line calls, which cost more than the rest of a block kernel; this is two
/// instructions either way. Used by the dot kernels, the activation quantizer and the scale
/// search.
enum ExactIntegers {
    // Computed, not stored: a `static let` is a lazily initialised global whose every use
    // outside an inlined loop costs a `swift_once` check.
    @inline(__always) static var magicFloat: SIMD8<Float> { SIMD8<Float>(repeating: 12_582_912) }
    @inline(__always) static var magicBits: SIMD8<Int32> { SIMD8<Int32>(repeating: 0x4B40_0000) }

    /// The integers as Floats.
    @inline(__always) static func float(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        unsafeBitCast(v &+ magicBits, to: SIMD8<Float>.self) - magicFloat
    }

    /// The Floats rounded to the nearest integer (ties to even); |v| must be below 2²².
    @inline(__always) static func rounded(_ v: SIMD8<Float>) -> SIMD8<Int32> {
        unsafeBitCast(v + magicFloat, to: SIMD8<Int32>.self) &- magicBits
    }
}

/// Bytes widened to Int32 lanes with a constant byte shuffle (one `vpmovzxbd`; the generic
/// `SIMD8<Int32>(truncatingIfNeeded:)` from UInt8 lanes is an out-of-line call).
enum Widen {
    @inline(__always) static func bytes8(_ p: UnsafeRawPointer) -> SIMD8<Int32> {
        let b = p.loadUnaligned(as: SIMD8<UInt8>.self)
        let w = SIMD32<UInt8>(b[0], 0, 0, 0, b[1], 0, 0, 0, b[2], 0, 0, 0, b[3], 0, 0, 0,
                              b[4], 0, 0, 0, b[5], 0, 0, 0, b[6], 0, 0, 0, b[7], 0, 0, 0)
        return unsafeBitCast(w, to: SIMD8<Int32>.self)
    }
}
