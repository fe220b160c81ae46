/// A minimal protobuf wire-format reader: enough for SentencePiece's `ModelProto`.
/// Every length is checked against the bytes that remain.
struct ProtobufReader {
    let bytes: [UInt8]
    var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from: Int = 0, to: Int? = nil) {
        self.bytes = bytes
        offset = from
        end = to ?? bytes.count
    }

    var isAtEnd: Bool { offset >= end }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end, shift < 64 else { throw TokenizerError.invalid("truncated varint at byte \(offset)") }
            let b = bytes[offset]
            offset += 1
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    /// An `int32` or enum field: the varint's low 32 bits, as protobuf's own parsers read it
    /// (a negative int32 is written as a 10-byte varint).
    mutating func int32() throws -> Int32 { Int32(truncatingIfNeeded: try varint()) }

    /// (field number, wire type).
    mutating func tag() throws -> (Int, Int) {
        let t = try varint()
        return (Int(t >> 3), Int(t & 7))
    }

    /// The range of a length-delimited field.
    mutating func lengthDelimited() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - offset) else { throw TokenizerError.invalid("field of \(n) bytes at byte \(offset) runs past its message") }
        let r = offset..<(offset + Int(n))
        offset += Int(n)
        return r
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - offset >= 4 else { throw TokenizerError.invalid("truncated fixed32 at byte \(offset)") }
        let v = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        offset += 4
        return v
    }

    mutating func skip(wireType: Int) throws {
        switch wireType {
        case 0: _ = try varint()
        case 1: guard end - offset >= 8 else { throw TokenizerError.invalid("truncated fixed64") }; offset += 8
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw TokenizerError.invalid("unsupported wire type \(wireType) at byte \(offset)")
        }
    }
}
