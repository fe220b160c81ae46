import Foundation

/// Writes SentencePiece `ModelProto` records (protobuf wire format), so tests can append pieces
/// to a real model or write fields no trainer would.
enum SentencePieceBuilder {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            let b = UInt8(v & 0x7F)
            v >>= 7
            out.append(v == 0 ? b : b | 0x80)
        } while v != 0
        return out
    }

    static func field(_ number: Int, bytes: [UInt8]) -> [UInt8] { varint(UInt64(number << 3 | 2)) + varint(UInt64(bytes.count)) + bytes }
    static func field(_ number: Int, varint v: UInt64) -> [UInt8] { varint(UInt64(number << 3)) + varint(v) }

    /// A `pieces` entry (ModelProto field 1): piece, score, and type as a raw varint if given.
    static func piece(_ text: String, score: Float, type: UInt64? = nil) -> [UInt8] {
        var p = field(1, bytes: Array(text.utf8))
        p += varint(2 << 3 | 5)
        withUnsafeBytes(of: score.bitPattern.littleEndian) { p += $0 }
        if let type { p += field(3, varint: type) }
        return field(1, bytes: p)
    }

    /// A `trainer_spec` (field 2) with the given model type as a raw varint (BPE is 2).
    static func trainerSpec(modelType: UInt64) -> [UInt8] { field(2, bytes: field(3, varint: modelType)) }
}
