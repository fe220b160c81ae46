import TensorCore

/// A GGUF metadata value with its GGUF type (gguf.h `enum gguf_type`): llama.cpp reads most keys
/// with one exact type (a `uint32` block count, a `float32` epsilon), so the type is the
/// writer's to choose, not the reader's to guess.
package indirect enum GGUFValue: Equatable, Sendable {
    case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), f32(Float), bool(Bool)
    case string(String)
    case u64(UInt64), i64(Int64), f64(Double)
    /// Elements all of `elementType` (a GGUF type number, as `typeID`).
    case array(elementType: UInt32, [GGUFValue])

    /// gguf.h's number for this value's type.
    package var typeID: UInt32 {
        switch self {
        case .u8: return 0
        case .i8: return 1
        case .u16: return 2
        case .i16: return 3
        case .u32: return 4
        case .i32: return 5
        case .f32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .u64: return 10
        case .i64: return 11
        case .f64: return 12
        }
    }

    package static func strings(_ a: [String]) -> GGUFValue { .array(elementType: 8, a.map { .string($0) }) }
    package static func int32s(_ a: [Int32]) -> GGUFValue { .array(elementType: 5, a.map { .i32($0) }) }
    package static func float32s(_ a: [Float]) -> GGUFValue { .array(elementType: 6, a.map { .f32($0) }) }
}

/// One tensor of a GGUF file: its name, ggml type, shape (outermost first, as Tramontane writes
/// shapes; GGUF stores the reverse) and where its bytes come from, loaded when written.
package struct GGUFTensorEntry {
    package var name: String
    package var ggmlType: UInt32
    package var shape: [Int]
    package var byteCount: Int
    package var load: () throws -> ByteRegion

    package init(name: String, ggmlType: UInt32, shape: [Int], byteCount: Int, load: @escaping () throws -> ByteRegion) {
        self.name = name
        self.ggmlType = ggmlType
        self.shape = shape
        self.byteCount = byteCount
        self.load = load
    }
}

/// Writes a GGUF v3 file as gguf.c's `gguf_write_to_file` lays it out: magic, version, tensor
/// and key counts, the key/value pairs, the tensor infos (name, dimensions innermost first,
/// type, offset into the data section), zero padding to `general.alignment`, then each
/// tensor's bytes in the order of the infos, each padded to the alignment
/// (formats/gguf-export.md). Tensors are loaded and written one at a time.
package enum GGUFWriter {
    package static let alignment = 32

    /// The header: everything before the data section, padded to `alignment`; and each tensor's
    /// offset within the data section.
    package static func header(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensorEntry],
                              alignment: Int = alignment) -> (bytes: [UInt8], offsets: [Int]) {
        var b: [UInt8] = []
        func u32(_ x: UInt32) { withUnsafeBytes(of: x.littleEndian) { b += $0 } }
        func u64(_ x: UInt64) { withUnsafeBytes(of: x.littleEndian) { b += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); b += s.utf8 }
        func value(_ v: GGUFValue) {
            switch v {
            case .u8(let x): b.append(x)
            case .i8(let x): b.append(UInt8(bitPattern: x))
            case .u16(let x): withUnsafeBytes(of: x.littleEndian) { b += $0 }
            case .i16(let x): withUnsafeBytes(of: x.littleEndian) { b += $0 }
            case .u32(let x): u32(x)
            case .i32(let x): u32(UInt32(bitPattern: x))
            case .f32(let x): u32(x.bitPattern)
            case .bool(let x): b.append(x ? 1 : 0)
            case .string(let s): str(s)
            case .u64(let x): u64(x)
            case .i64(let x): u64(UInt64(bitPattern: x))
            case .f64(let x): u64(x.bitPattern)
            case .array(let t, let a):
                u32(t)
                u64(UInt64(a.count))
                for e in a { value(e) }
            }
        }
        b += Array("GGUF".utf8)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (k, v) in metadata {
            str(k)
            u32(v.typeID)
            value(v)
        }
        var offsets: [Int] = []
        var offset = 0
        for t in tensors {
            str(t.name)
            u32(UInt32(t.shape.count))
            for d in t.shape.reversed() { u64(UInt64(d)) }
            u32(t.ggmlType)
            u64(UInt64(offset))
            offsets.append(offset)
            offset += padded(t.byteCount, alignment)
        }
        b += [UInt8](repeating: 0, count: padded(b.count, alignment) - b.count)
        return (b, offsets)
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Writes the file to `out` (which the caller commits); `progress` is told each tensor's
    /// name after it is written. A tensor whose bytes are not the size its entry declares is
    /// an error naming it: the offsets in the header would be wrong.
    package static func write(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFTensorEntry], to out: AtomicOutputFile,
                             progress: (Int, String) -> Void = { _, _ in }) throws {
        let (head, _) = header(metadata: metadata, tensors: tensors)
        try head.withUnsafeBytes { try out.write($0) }
        for (i, t) in tensors.enumerated() {
            let region = try t.load()
            guard region.count == t.byteCount else {
                throw CheckpointError.invalidTensor(path: out.destination, tensor: t.name,
                                                    detail: "\(region.count) bytes to write, the header says \(t.byteCount)")
            }
            try region.withBytes { try out.write($0) }
            region.dropPages()
            try out.writeZeros(padded(t.byteCount, alignment) - t.byteCount)
            progress(i, t.name)
        }
    }
}
