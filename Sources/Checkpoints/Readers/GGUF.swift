import TensorCore

/// A GGUF file (v2/v3): key/value metadata, tensor infos, aligned tensor data.
/// Every count and length is checked against the bytes that remain before anything is allocated.
package struct GGUFFile: Sendable {
    package let path: String
    package let version: UInt32
    /// Every metadata key, in file order.
    package let keys: [String]
    package let tensors: [SourceTensor]
    package let alignment: Int
    /// Values converted to JSON when the header was read.
    private let parsed: [String: JSONValue]
    /// Arrays of at least `deferAt` scalars or strings (a tokenizer's tokens, types and merges:
    /// ~150k values in SmolLM2, whose conversion was half of opening the file, serially before
    /// any command's work), walked and bounds-checked with the header but converted only when
    /// asked for.
    private let deferred: [String: DeferredArray]
    private let file: MappedFile
    static let deferAt = 1024

    struct DeferredArray {
        let elementType: UInt32
        let count: Int
        /// The elements' bytes in the file.
        let range: Range<Int>
    }

    /// Metadata in file order, values converted to JSON (deferred arrays included).
    package var metadata: [(key: String, value: JSONValue)] { keys.compactMap { k in value(k).map { (k, $0) } } }

    package static func hasMagic(_ b: UnsafeRawBufferPointer) -> Bool { b.le(UInt32.self, at: 0) == 0x4655_4747 }

    /// ggml's names for the tensor types Tramontane does not read (ggml.h `enum ggml_type`), so
    /// a file holding one is refused by name. The types it reads are `DType(ggmlType:)`.
    static let unreadTypes: [UInt32: String] = [
        9: "Q8_1", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
        19: "IQ1_S", 21: "IQ3_S", 22: "IQ2_S", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0",
    ]
    package static func typeID(_ d: DType) -> UInt32? { d.traits.ggmlType }

    /// A metadata value; a deferred array is converted now (it was checked when the header was
    /// read, so the conversion cannot fail).
    package func value(_ key: String) -> JSONValue? {
        if let v = parsed[key] { return v }
        guard let d = deferred[key] else { return nil }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: file.bytes[d.range]), baseOffset: d.range.lowerBound)
        var a: [JSONValue] = []
        a.reserveCapacity(d.count)
        for _ in 0..<d.count {
            guard let v = try? GGUFFile.value(&r, type: d.elementType, depth: 1, path: path) else { return nil }
            a.append(v)
        }
        return .array(a)
    }

    /// The element count of an array value, without converting a deferred one.
    package func arrayCount(_ key: String) -> Int? { deferred[key]?.count ?? parsed[key]?.arrayValue?.count }

    package init(_ file: MappedFile) throws {
        path = file.path
        let b = file.bytes
        var r = ByteReader(b)
        let path = file.path
        func bad(_ s: String) -> CheckpointError { .invalidHeader(path: path, detail: s) }
        do {
            guard try r.readU32() == 0x4655_4747 else { throw CheckpointError.unrecognizedFormat(path: path, detail: "no GGUF magic") }
            version = try r.readU32()
            guard version == 2 || version == 3 else { throw bad("GGUF version \(version) is not supported (2 and 3 are)") }
            let tensorCount = try r.readU64(), kvCount = try r.readU64()
            // Each KV needs ≥ 12 bytes and each tensor info ≥ 24: refuse counts the file cannot hold.
            guard kvCount <= UInt64(r.remaining / 12), tensorCount <= UInt64(r.remaining / 24) else {
                throw bad("\(kvCount) metadata entries and \(tensorCount) tensors cannot fit in \(b.count) bytes")
            }
            var keys: [String] = []
            var parsed: [String: JSONValue] = [:]
            var deferred: [String: DeferredArray] = [:]
            for _ in 0..<kvCount {
                let key = try GGUFFile.string(&r)
                let type = try r.readU32()
                guard parsed[key] == nil, deferred[key] == nil else { throw bad("duplicate metadata key \(key)") }
                if type == 9, let d = try GGUFFile.deferredArray(&r, path: path) {
                    deferred[key] = d
                } else {
                    parsed[key] = try GGUFFile.value(&r, type: type, depth: 0, path: path)
                }
                keys.append(key)
            }
            self.keys = keys
            self.parsed = parsed
            self.deferred = deferred
            self.file = file
            var align = 32
            if let a = parsed["general.alignment"]?.intValue {
                guard a > 0, a <= 1 << 20, a & (a - 1) == 0 else { throw bad("general.alignment \(a) is not a power of two") }
                align = a
            }
            alignment = align
            var infos: [(String, DType, [Int], Int)] = []
            var names = Set<String>()
            for _ in 0..<tensorCount {
                let name = try GGUFFile.string(&r)
                let nd = try r.readU32()
                guard nd >= 1, nd <= 4 else { throw CheckpointError.invalidTensor(path: path, tensor: name, detail: "\(nd) dimensions") }
                var ne: [Int] = []
                for _ in 0..<nd {
                    let d = try r.readU64()
                    guard d <= UInt64(Int32.max) else { throw CheckpointError.invalidTensor(path: path, tensor: name, detail: "dimension \(d) is too large") }
                    ne.append(Int(d))
                }
                let typeID = try r.readU32()
                guard let dtype = DType(ggmlType: typeID) else {
                    throw CheckpointError.unsupportedDType(path: path, tensor: name, dtype: "ggml type \(typeID)" + (GGUFFile.unreadTypes[typeID].map { " (\($0))" } ?? ""))
                }
                let offset = try r.readU64()
                guard offset <= UInt64(b.count) else { throw CheckpointError.invalidTensor(path: path, tensor: name, detail: "offset \(offset) beyond the file") }
                guard names.insert(name).inserted else { throw CheckpointError.duplicateTensor(name: name, files: [path]) }
                guard ne[0] % dtype.blockSize == 0 else {
                    throw CheckpointError.invalidTensor(path: path, tensor: name, detail: "row of \(ne[0]) is not a whole number of \(dtype.rawValue) blocks")
                }
                infos.append((name, dtype, Array(ne.reversed()), Int(offset)))
            }
            let dataStart = (r.offset + align - 1) / align * align
            var tensors: [SourceTensor] = []
            for (name, dtype, shape, offset) in infos {
                func badT(_ s: String) -> CheckpointError { .invalidTensor(path: path, tensor: name, detail: s) }
                guard offset % align == 0 else { throw badT("data offset \(offset) is not aligned to \(align)") }
                let bytes: Int
                do { bytes = try dtype.byteCount(shape: shape) } catch { throw badT("\(error)") }
                guard dataStart <= b.count, offset <= b.count - dataStart, bytes <= b.count - dataStart - offset else {
                    throw CheckpointError.truncated(path: path, detail: "tensor \(name) needs bytes \(dataStart + offset)..<\(dataStart + offset + bytes), file has \(b.count)")
                }
                let start = dataStart + offset
                tensors.append(SourceTensor(name: name, dtype: dtype, shape: shape, origin: "\(path) @ \(start)") {
                    file.region(offset: start, count: bytes)
                })
            }
            // Overlapping tensor data is a lying header.
            let sorted = infos.sorted { $0.3 < $1.3 }
            for i in sorted.indices.dropFirst() {
                let prev = sorted[i - 1]
                let prevBytes = (try? prev.1.byteCount(shape: prev.2)) ?? 0
                if prev.3 + prevBytes > sorted[i].3 {
                    throw CheckpointError.invalidTensor(path: path, tensor: sorted[i].0, detail: "data overlaps tensor \(prev.0)")
                }
            }
            self.tensors = tensors
        } catch let e as TruncatedInput {
            throw CheckpointError.truncated(path: path, detail: "GGUF header: \(e)")
        }
    }

    /// At an array's element type: if it is a long array of scalars or strings, walks over its
    /// elements (every length checked against the bytes left, as `value` does) and returns where
    /// they are; otherwise leaves `r` where it was and returns nil.
    static func deferredArray(_ r: inout ByteReader, path: String) throws -> DeferredArray? {
        let start = r.offset
        let elementType = try r.readU32()
        let count = try r.readU64()
        let sizes: [UInt32: Int] = [0: 1, 1: 1, 7: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 10: 8, 11: 8, 12: 8]
        guard count >= UInt64(deferAt), count <= UInt64(r.remaining), elementType == 8 || sizes[elementType] != nil else {
            r.offset = start
            return nil
        }
        let first = r.offset
        if let size = sizes[elementType] {
            try r.skip(Int(count) * size)
        } else {
            for _ in 0..<count {
                let n = try r.readU64()
                guard n <= UInt64(r.remaining) else { throw TruncatedInput(offset: r.offset, needed: Int(clamping: n), available: r.remaining) }
                try r.skip(Int(n))
            }
        }
        return DeferredArray(elementType: elementType, count: Int(count), range: (r.baseOffset + first)..<(r.baseOffset + r.offset))
    }

    static func string(_ r: inout ByteReader) throws -> String {
        let n = try r.readU64()
        guard n <= UInt64(r.remaining) else { throw TruncatedInput(offset: r.offset, needed: Int(clamping: n), available: r.remaining) }
        return try r.readString(Int(n))
    }

    static func value(_ r: inout ByteReader, type: UInt32, depth: Int, path: String) throws -> JSONValue {
        switch type {
        case 0: return .int(Int64(try r.readU8()))
        case 1: return .int(Int64(Int8(bitPattern: try r.readU8())))
        case 2: return .int(Int64(try r.readU16()))
        case 3: return .int(Int64(Int16(bitPattern: try r.readU16())))
        case 4: return .int(Int64(try r.readU32()))
        case 5: return .int(Int64(try r.readI32()))
        case 6: return .double(Double(try r.readF32()))
        case 7: return .bool(try r.readU8() != 0)
        case 8: return .string(try string(&r))
        case 10: let v = try r.readU64(); return v <= UInt64(Int64.max) ? .int(Int64(v)) : .double(Double(v))
        case 11: return .int(try r.readI64())
        case 12: return .double(try r.readF64())
        case 9:
            guard depth < 4 else { throw CheckpointError.invalidHeader(path: path, detail: "arrays nested too deep") }
            let elementType = try r.readU32()
            let count = try r.readU64()
            // Every element takes at least one byte: a count beyond the remaining bytes is a lie.
            guard count <= UInt64(r.remaining) else { throw TruncatedInput(offset: r.offset, needed: Int(clamping: count), available: r.remaining) }
            var a: [JSONValue] = []
            a.reserveCapacity(Int(count))
            for _ in 0..<count { a.append(try value(&r, type: elementType, depth: depth + 1, path: path)) }
            return .array(a)
        default:
            throw CheckpointError.invalidHeader(path: path, detail: "unknown metadata value type \(type) at byte \(r.offset)")
        }
    }
}
