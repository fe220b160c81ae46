/// Int32 ↔ Float for small integers in 8 lanes, through the bits of 2²³ + 2²² + v (exact for
/// |v| < 2²²). Swift emits its generic SIMD conversions (`SIMD8<Float>(SIMD8<Int32>)` and back)
/// as out-of-line calls, which cost more than the rest of a block kernel; this is two
/// instructions either way. Used by the dot kernels, the activation quantizer and the scale
/// search.
enum ExactIntegers {
    static let magicFloat = SIMD8<Float>(repeating: 12_582_912)
    static let magicBits = SIMD8<Int32>(repeating: 0x4B40_0000)

    /// The integers as Floats.
    @inline(__always) static func float(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        unsafeBitCast(v &+ magicBits, to: SIMD8<Float>.self) - magicFloat
    }

    /// The Floats rounded to the nearest integer (ties to even); |v| must be below 2²².
    @inline(__always) static func rounded(_ v: SIMD8<Float>) -> SIMD8<Int32> {
        unsafeBitCast(v + magicFloat, to: SIMD8<Int32>.self) &- magicBits
    }
}
