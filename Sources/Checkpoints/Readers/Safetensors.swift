import TensorCore

/// A safetensors file: `u64 header length` + JSON header + tensor bytes. Validated as the
/// reference implementation does (safetensors/src/tensor.rs): header ≤ 100 MB, well-formed
/// JSON with no duplicate names, offsets contiguous from 0 without gaps or overlaps, each
/// tensor's byte count equal to its shape × dtype size, and no bytes after the last tensor.
package enum Safetensors {
    package static let maxHeaderLength = 100_000_000

    static let dtypes: [String: DType] = [
        "F64": .f64, "F32": .f32, "F16": .f16, "BF16": .bf16,
        "I64": .i64, "I32": .i32, "I16": .i16, "I8": .i8, "U8": .u8, "BOOL": .bool,
    ]

    /// True when the bytes look like a safetensors file (length prefix then `{`).
    package static func hasMagic(_ b: UnsafeRawBufferPointer) -> Bool {
        guard let n = b.le(UInt64.self, at: 0), n >= 2, n <= UInt64(maxHeaderLength), b.count > 8 else { return false }
        return b[8] == UInt8(ascii: "{")
    }

    /// Parses and validates `file`; returns its tensors in data order and the `__metadata__`.
    package static func read(_ file: MappedFile) throws -> (tensors: [SourceTensor], metadata: [String: String]) {
        let path = file.path
        let b = file.bytes
        guard let n64 = b.le(UInt64.self, at: 0) else {
            throw CheckpointError.truncated(path: path, detail: "\(b.count) bytes, the 8-byte header length is missing")
        }
        guard n64 <= UInt64(maxHeaderLength) else {
            throw CheckpointError.invalidHeader(path: path, detail: "header length \(n64) exceeds the 100 MB limit")
        }
        let n = Int(n64)
        guard n <= b.count - 8 else {
            throw CheckpointError.truncated(path: path, detail: "header claims \(n) bytes, the file has \(b.count - 8) after the length")
        }
        let json: JSONValue
        do { json = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: b[8..<(8 + n)])) } catch {
            throw CheckpointError.invalidHeader(path: path, detail: "\(error)")
        }
        guard case .object(let entries) = json else { throw CheckpointError.invalidHeader(path: path, detail: "header is not a JSON object") }
        let dataStart = 8 + n
        let dataLength = b.count - dataStart

        var metadata: [String: String] = [:]
        var infos: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        for (name, entry) in entries {
            if name == "__metadata__" {
                guard case .object(let m) = entry else { throw CheckpointError.invalidHeader(path: path, detail: "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v.stringValue else { throw CheckpointError.invalidHeader(path: path, detail: "__metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            func bad(_ d: String) -> CheckpointError { .invalidTensor(path: path, tensor: name, detail: d) }
            guard let dt = entry["dtype"]?.stringValue else { throw bad("no dtype") }
            guard let dtype = dtypes[dt] else { throw CheckpointError.unsupportedDType(path: path, tensor: name, dtype: dt) }
            guard let shapeValues = entry["shape"]?.arrayValue else { throw bad("no shape") }
            var shape: [Int] = []
            for v in shapeValues {
                guard let d = v.intValue, d >= 0 else { throw bad("shape \(shapeValues) has a dimension that is not a non-negative integer") }
                shape.append(d)
            }
            guard let offs = entry["data_offsets"]?.arrayValue, offs.count == 2,
                  let begin = offs[0].intValue, let end = offs[1].intValue, begin >= 0, end >= begin
            else { throw bad("data_offsets must be two integers [begin, end] with begin ≤ end") }
            let expected: Int
            do { expected = try dtype.byteCount(elements: try elementCount(shape)) } catch { throw bad("\(error)") }
            guard end - begin == expected else {
                throw bad("data_offsets [\(begin), \(end)] hold \(end - begin) bytes, \(dt)\(shape) needs \(expected)")
            }
            infos.append((name, dtype, shape, begin, end))
        }
        infos.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for t in infos {
            if t.begin > cursor {
                throw CheckpointError.invalidTensor(path: path, tensor: t.name, detail: "gap in the data: starts at \(t.begin), previous tensor ends at \(cursor)")
            }
            if t.begin < cursor {
                throw CheckpointError.invalidTensor(path: path, tensor: t.name, detail: "overlaps the previous tensor (starts at \(t.begin), previous ends at \(cursor))")
            }
            cursor = t.end
        }
        if cursor > dataLength {
            throw CheckpointError.truncated(path: path, detail: "tensors need \(cursor) data bytes, the file has \(dataLength)")
        }
        if cursor < dataLength {
            throw CheckpointError.invalidHeader(path: path, detail: "\(dataLength - cursor) bytes after the last tensor")
        }
        let tensors = infos.map { t in
            SourceTensor(name: t.name, dtype: t.dtype, shape: t.shape, origin: "\(path) @ \(dataStart + t.begin)") {
                file.region(offset: dataStart + t.begin, count: t.end - t.begin)
            }
        }
        return (tensors, metadata)
    }
}
