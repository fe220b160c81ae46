/// Reading past the end of a header or record: the input is shorter than it claims.
package struct TruncatedInput: Error, Equatable, CustomStringConvertible {
    package let offset: Int
    package let needed: Int
    package let available: Int
    package init(offset: Int, needed: Int, available: Int) {
        self.offset = offset
        self.needed = needed
        self.available = available
    }
    package var description: String {
        "truncated: needed \(needed) bytes at offset \(offset), only \(available) available"
    }
}

/// A cursor over raw little-endian bytes. Integers are read with `loadUnaligned`; a read past
/// the end is an error value, never a trap (the swift-nio habit).
package struct ByteReader {
    package let bytes: UnsafeRawBufferPointer
    package var offset: Int
    /// Added to `offset` in error messages, when `bytes` is a slice of a larger file.
    package let baseOffset: Int

    package init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, baseOffset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.baseOffset = baseOffset
    }

    package var remaining: Int { bytes.count - offset }
    package var isAtEnd: Bool { offset >= bytes.count }

    @inline(__always)
    mutating func need(_ n: Int) throws(TruncatedInput) {
        guard n >= 0, offset >= 0, offset <= bytes.count, n <= bytes.count - offset else {
            throw TruncatedInput(offset: baseOffset + offset, needed: n, available: max(0, bytes.count - offset))
        }
    }

    @inline(__always)
    package mutating func read<T: FixedWidthInteger>(_: T.Type) throws(TruncatedInput) -> T {
        try need(MemoryLayout<T>.size)
        let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    package mutating func readU8() throws(TruncatedInput) -> UInt8 { try read(UInt8.self) }
    package mutating func readU16() throws(TruncatedInput) -> UInt16 { try read(UInt16.self) }
    package mutating func readU32() throws(TruncatedInput) -> UInt32 { try read(UInt32.self) }
    package mutating func readU64() throws(TruncatedInput) -> UInt64 { try read(UInt64.self) }
    package mutating func readI32() throws(TruncatedInput) -> Int32 { try read(Int32.self) }
    package mutating func readI64() throws(TruncatedInput) -> Int64 { try read(Int64.self) }

    package mutating func readF32() throws(TruncatedInput) -> Float { Float(bitPattern: try readU32()) }
    package mutating func readF64() throws(TruncatedInput) -> Double { Double(bitPattern: try readU64()) }

    /// `n` bytes as a slice of the underlying buffer (no copy).
    package mutating func readBytes(_ n: Int) throws(TruncatedInput) -> UnsafeRawBufferPointer {
        try need(n)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        offset += n
        return slice
    }

    package mutating func skip(_ n: Int) throws(TruncatedInput) {
        try need(n)
        offset += n
    }

    /// `n` bytes decoded as UTF-8 (invalid sequences are repaired with U+FFFD).
    package mutating func readString(_ n: Int) throws(TruncatedInput) -> String {
        String(decoding: try readBytes(n), as: UTF8.self)
    }

    /// Reads a big-endian integer (pickle's BINFLOAT and protobuf-free formats rarely need it).
    package mutating func readBigEndianU64() throws(TruncatedInput) -> UInt64 {
        try need(8)
        let v = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        offset += 8
        return v
    }
}

extension UnsafeRawBufferPointer {
    /// A little-endian integer at `offset`, or nil when it would read past the end.
    @inline(__always)
    package func le<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        guard offset >= 0, offset <= count - MemoryLayout<T>.size else { return nil }
        return T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
