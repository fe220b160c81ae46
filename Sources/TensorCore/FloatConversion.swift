/// Bulk conversions between the float storage types and Float.
///
/// BF16 has no Swift type: it is the high half of a Float's bits. Float16 conversions compile to
/// F16C instructions when the target CPU has them (this target is built with `-target-cpu haswell`).
package enum FloatConversion {
    /// BF16 bits to Float: exact.
    @inline(__always)
    package static func bf16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Float to BF16 bits, rounding to nearest even; NaN stays NaN.
    @inline(__always)
    package static func floatToBF16(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: (b >> 16) | 0x40) }
        let rounding = UInt32(0x7FFF) + ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: (b &+ rounding) >> 16)
    }

    @inline(__always)
    package static func f16ToFloat(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// Decodes `count` elements of a float or integer dtype into `out`.
    package static func toFloat(_ src: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>) throws(TensorError) {
        let n = out.count
        switch dtype {
        case .f32:
            guard src.count >= n * 4 else { throw .invalidShape("short f32 buffer") }
            #if _endian(little)
            if let s = src.baseAddress, let d = out.baseAddress { UnsafeMutableRawPointer(d).copyMemory(from: s, byteCount: n * 4) }
            #else
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            #endif
        case .f16:
            guard src.count >= n * 2 else { throw .invalidShape("short f16 buffer") }
            f16ToFloat(src, into: out)
        case .bf16:
            guard src.count >= n * 2 else { throw .invalidShape("short bf16 buffer") }
            bf16ToFloat(src, into: out)
        case .f64:
            guard src.count >= n * 8 else { throw .invalidShape("short f64 buffer") }
            for i in 0..<n { out[i] = Float(Double(bitPattern: src.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) }
        case .i64:
            guard src.count >= n * 8 else { throw .invalidShape("short i64 buffer") }
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
        case .i32:
            guard src.count >= n * 4 else { throw .invalidShape("short i32 buffer") }
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
        case .i16:
            guard src.count >= n * 2 else { throw .invalidShape("short i16 buffer") }
            for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)) }
        case .i8:
            guard src.count >= n else { throw .invalidShape("short i8 buffer") }
            for i in 0..<n { out[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .u8, .bool:
            guard src.count >= n else { throw .invalidShape("short u8 buffer") }
            for i in 0..<n { out[i] = Float(src[i]) }
        default:
            throw .unsupported("\(dtype.rawValue) is block-quantized; dequantize it with the Quantization module")
        }
    }

    /// BF16 → Float, 16 values a step: each 32-bit lane of a load holds two BF16 values, the
    /// even one shifted up and the odd one masked give their Floats, and a shuffle puts them back
    /// in order (the scalar loop ran at ~2 G values/s, a fifth of quantizing a BF16 checkpoint).
    package static func bf16ToFloat(_ src: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        guard let s = src.baseAddress, let d = out.baseAddress else { return }
        let n = out.count
        let dst = UnsafeMutableRawPointer(d)
        var i = 0
        #if _endian(little)
        while i + 16 <= n {
            let v = s.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt32>.self)
            let even = v &<< 16, odd = v & SIMD8(repeating: 0xFFFF_0000)
            let lo = SIMD8<UInt32>(even[0], odd[0], even[1], odd[1], even[2], odd[2], even[3], odd[3])
            let hi = SIMD8<UInt32>(even[4], odd[4], even[5], odd[5], even[6], odd[6], even[7], odd[7])
            dst.storeBytes(of: lo, toByteOffset: 4 * i, as: SIMD8<UInt32>.self)
            dst.storeBytes(of: hi, toByteOffset: 4 * i + 32, as: SIMD8<UInt32>.self)
            i += 16
        }
        #endif
        while i < n { d[i] = bf16ToFloat(UInt16(littleEndian: s.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))); i += 1 }
    }

    /// F16 → Float, 8 values a step (one `vcvtph2ps` with F16C).
    static func f16ToFloat(_ src: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        guard let s = src.baseAddress, let d = out.baseAddress else { return }
        let n = out.count
        let dst = UnsafeMutableRawPointer(d)
        var i = 0
        #if _endian(little)
        while i + 8 <= n {
            dst.storeBytes(of: SIMD8<Float>(s.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)), toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        #endif
        while i < n { d[i] = Float(Float16(bitPattern: UInt16(littleEndian: s.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))); i += 1 }
    }

    /// Encodes Floats as `dtype` (f32, f16 or bf16). F16 refuses values that would overflow to
    /// infinity, naming `tensor`; infinities and NaN already in the input pass through.
    package static func fromFloat(_ src: UnsafeBufferPointer<Float>, to dtype: DType, into dst: UnsafeMutableRawBufferPointer, tensor: String) throws(TensorError) {
        let n = src.count
        switch dtype {
        case .f32:
            guard dst.count >= n * 4 else { throw .invalidShape("short destination") }
            for i in 0..<n { dst.storeBytes(of: src[i].bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        case .f16:
            guard dst.count >= n * 2 else { throw .invalidShape("short destination") }
            for i in 0..<n {
                let h = Float16(src[i])
                if h.isInfinite && src[i].isFinite { throw .valueOutOfRange(tensor: tensor, value: src[i], target: .f16) }
                dst.storeBytes(of: h.bitPattern.littleEndian, toByteOffset: i * 2, as: UInt16.self)
            }
        case .bf16:
            guard dst.count >= n * 2 else { throw .invalidShape("short destination") }
            for i in 0..<n {
                let h = floatToBF16(src[i])
                if (h & 0x7F80) == 0x7F80 && (h & 0x7F) == 0 && src[i].isFinite {
                    throw .valueOutOfRange(tensor: tensor, value: src[i], target: .bf16)
                }
                dst.storeBytes(of: h.littleEndian, toByteOffset: i * 2, as: UInt16.self)
            }
        default:
            throw .unsupported("cannot encode floats as \(dtype.rawValue) here")
        }
    }
}
