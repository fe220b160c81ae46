import TensorCore

/// Writes one safetensors file (the layout `Safetensors.read` checks: `u64` header length, JSON
/// header, tensor bytes contiguous from offset 0 in header order) from tensors streamed in one
/// at a time. The header needs every offset before the first byte of data, so the tensors'
/// names, types and shapes are given up front; their bytes follow, in that order, in as many
/// pieces as the caller likes. The file appears only on `commit()` (an `AtomicOutputFile`).
package final class SafetensorsWriter: CommittableOutput {
    /// One tensor of the file. `dtype` is safetensors' name (`BF16`, `F32`, `U32`, …): MLX's
    /// packed weights are `U32`, a type Tramontane never reads as values.
    package struct Entry: Sendable {
        package var name: String
        package var dtype: String
        package var shape: [Int]
        package var byteCount: Int
        package init(name: String, dtype: String, shape: [Int], byteCount: Int) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.byteCount = byteCount
        }
    }

    /// Element sizes of the type names a writer may use.
    package static let elementBytes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    ]

    /// The safetensors name of a float or integer `DType`.
    package static func name(of dtype: DType) -> String? {
        Safetensors.dtypes.first { $0.value == dtype }?.key
    }

    package let entries: [Entry]
    private let file: AtomicOutputFile
    private var index = 0
    private var written = 0

    /// Writes the header. `metadata` becomes `__metadata__` (transformers wants `format: pt`).
    package init(target: OutputTarget, tensors: [Entry], metadata: [String: String] = [:]) throws {
        var header: [String: JSONValue] = [:]
        var offset = 0
        for e in tensors {
            guard let size = Self.elementBytes[e.dtype] else { throw CheckpointError.layout("safetensors writer: unknown dtype \(e.dtype) for \(e.name)") }
            let count = e.shape.reduce(1, *)
            guard e.shape.allSatisfy({ $0 >= 0 }), count * size == e.byteCount else {
                throw CheckpointError.layout("safetensors writer: \(e.name) is \(e.dtype)\(e.shape) but has \(e.byteCount) bytes")
            }
            guard header[e.name] == nil, e.name != "__metadata__" else { throw CheckpointError.duplicateTensor(name: e.name, files: [target.path]) }
            header[e.name] = .object([
                "dtype": .string(e.dtype),
                "shape": .array(e.shape.map { .int(Int64($0)) }),
                "data_offsets": .array([.int(Int64(offset)), .int(Int64(offset + e.byteCount))]),
            ])
            offset += e.byteCount
        }
        if !metadata.isEmpty { header["__metadata__"] = .object(metadata.mapValues { .string($0) }) }
        var json = JSONWriter.bytes(.object(header))
        // Padded with spaces so the data starts 8-byte aligned, as the Python writer does.
        while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        entries = tensors
        file = try AtomicOutputFile(target: target)
        var length = UInt64(json.count).littleEndian
        try withUnsafeBytes(of: &length) { try file.write($0) }
        try json.withUnsafeBytes { try file.write($0) }
    }

    /// Appends bytes of the current tensor; a tensor is complete when its `byteCount` has come.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            skipComplete()
            guard index < entries.count else {
                file.abandon()
                throw CheckpointError.layout("safetensors writer: \(rest.count) bytes after the last tensor of \(file.destination)")
            }
            let take = min(rest.count, entries[index].byteCount - written)
            try file.write(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            written += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
        }
    }

    /// Moves past finished (and empty) tensors.
    private func skipComplete() {
        while index < entries.count && written == entries[index].byteCount {
            index += 1
            written = 0
        }
    }

    /// Renames the file into place once every tensor's bytes have been written.
    package func commit() throws {
        skipComplete()
        guard index == entries.count else {
            file.abandon()
            throw CheckpointError.layout("safetensors writer: \(file.destination) is missing the bytes of \(entries[index].name)")
        }
        try file.commit()
    }

    /// Removes the temporary file.
    package func abandon() { file.abandon() }
}
