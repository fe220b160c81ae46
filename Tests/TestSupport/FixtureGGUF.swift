import TensorCore

/// Reads GGUF files (the fetched SmolLM2 GGUF, files made by `GGUFBuilder`) for tests of
/// targets below Checkpoints: metadata converted to JSON as `GGUFFile` converts it, tensor
/// infos and data. Bounds are checked, nothing else (`GGUFFile` is the reader under test).
public struct FixtureGGUF {
    public struct Tensor {
        public let name: String
        public let dtype: DType
        /// Outermost first, as `SourceTensor.shape` (GGUF stores innermost first).
        public let shape: [Int]
        public let bytes: ByteRegion
    }

    public let path: String
    /// Every metadata key and value, in file order.
    public let metadata: [(key: String, value: JSONValue)]
    public let tensors: [Tensor]

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        var r = ByteReader(file.bytes)
        func bad(_ s: String) -> FixtureError { FixtureError(path: path, s) }
        guard try r.readU32() == 0x4655_4747 else { throw bad("no GGUF magic") }
        _ = try r.readU32()
        let tensorCount = try r.readU64(), keyCount = try r.readU64()
        guard keyCount <= UInt64(r.remaining), tensorCount <= UInt64(r.remaining) else { throw bad("counts beyond the file") }
        var metadata: [(key: String, value: JSONValue)] = []
        for _ in 0..<keyCount {
            let key = try Self.string(&r)
            metadata.append((key, try Self.value(&r, type: try r.readU32(), path: path)))
        }
        var infos: [(name: String, dtype: DType, shape: [Int], offset: Int)] = []
        for _ in 0..<tensorCount {
            let name = try Self.string(&r)
            let dimensions = try r.readU32()
            guard dimensions <= 4 else { throw bad("tensor \(name) has \(dimensions) dimensions") }
            var shape: [Int] = []
            for _ in 0..<dimensions {
                let d = try r.readU64()
                guard d <= UInt64(Int32.max) else { throw bad("tensor \(name) has a dimension of \(d)") }
                shape.insert(Int(d), at: 0)
            }
            let type = try r.readU32()
            guard let dtype = DType(ggmlType: type) else { throw bad("tensor \(name) has ggml type \(type)") }
            let offset = try r.readU64()
            guard offset <= UInt64(file.size) else { throw bad("tensor \(name) starts beyond the file") }
            infos.append((name, dtype, shape, Int(offset)))
        }
        let alignment = metadata.first { $0.key == "general.alignment" }?.value.intValue ?? 32
        guard alignment > 0 else { throw bad("general.alignment \(alignment)") }
        let dataStart = (r.offset + alignment - 1) / alignment * alignment
        tensors = try infos.map { t in
            let count = try t.dtype.byteCount(shape: t.shape)
            guard dataStart <= file.size, t.offset <= file.size - dataStart, count <= file.size - dataStart - t.offset else {
                throw bad("tensor \(t.name) ends beyond the file")
            }
            return Tensor(name: t.name, dtype: t.dtype, shape: t.shape, bytes: file.region(offset: dataStart + t.offset, count: count))
        }
        self.metadata = metadata
        self.path = path
    }

    /// The tensor named `name`.
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors.first(where: { $0.name == name }) else { throw FixtureError(path: path, "no tensor \(name)") }
        return t
    }

    /// The `tokenizer.*` keys as one JSON object, written and parsed again: what `Checkpoint.open`
    /// hands `TokenizerLoader` as a GGUF's `gguf-metadata` tokenizer file.
    public var tokenizerMetadata: JSONValue {
        get throws {
            var object: [String: JSONValue] = [:]
            for (k, v) in metadata where k.hasPrefix("tokenizer.") { object[k] = v }
            return try JSONWriter.bytes(.object(object)).withUnsafeBytes { try JSONParser.parse($0) }
        }
    }

    static func string(_ r: inout ByteReader) throws -> String {
        let n = try r.readU64()
        guard n <= UInt64(r.remaining) else { throw TruncatedInput(offset: r.offset, needed: Int(clamping: n), available: r.remaining) }
        return try r.readString(Int(n))
    }

    /// Value type `type` (gguf.md's numbering), as JSON: integers as `.int` (a uint64 past
    /// Int64.max as `.double`), floats as `.double`.
    static func value(_ r: inout ByteReader, type: UInt32, path: String, depth: Int = 0) throws -> JSONValue {
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
            guard depth < 4 else { throw FixtureError(path: path, "arrays nested too deep") }
            let elementType = try r.readU32()
            let count = try r.readU64()
            guard count <= UInt64(r.remaining) else { throw TruncatedInput(offset: r.offset, needed: Int(clamping: count), available: r.remaining) }
            var a: [JSONValue] = []
            a.reserveCapacity(Int(count))
            for _ in 0..<count { a.append(try value(&r, type: elementType, path: path, depth: depth + 1)) }
            return .array(a)
        default:
            throw FixtureError(path: path, "unknown metadata value type \(type) at byte \(r.offset)")
        }
    }
}
