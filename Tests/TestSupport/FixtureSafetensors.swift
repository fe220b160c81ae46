import TensorCore

/// Reads the committed safetensors fixtures (reference vectors, logits) for tests of targets
/// below Checkpoints: the header's names, dtypes, shapes and byte ranges, nothing validated
/// beyond staying inside the file (`Safetensors` in Checkpoints is the reader under test).
public enum FixtureSafetensors {
    public struct Tensor {
        public let name: String
        /// The header's dtype string ("F32", "U8", …).
        public let dtype: String
        public let shape: [Int]
        public let bytes: ByteRegion
    }

    /// Every tensor of the file at `path`, by name.
    public static func read(_ path: String) throws -> [String: Tensor] {
        let file = try MappedFile(path: path)
        let b = file.bytes
        guard let n64 = b.le(UInt64.self, at: 0), n64 <= UInt64(b.count - 8) else { throw FixtureError(path: path, "no header") }
        let dataStart = 8 + Int(n64)
        guard case .object(let entries) = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: b[8..<dataStart])) else {
            throw FixtureError(path: path, "the header is not an object")
        }
        var out: [String: Tensor] = [:]
        for (name, entry) in entries where name != "__metadata__" {
            guard let dtype = entry["dtype"]?.stringValue,
                  let shape = ints(entry["shape"]),
                  let offsets = ints(entry["data_offsets"]), offsets.count == 2,
                  0 <= offsets[0], offsets[0] <= offsets[1], offsets[1] <= b.count - dataStart
            else { throw FixtureError(path: path, "tensor \(name) has no dtype, shape or data_offsets inside the file") }
            out[name] = Tensor(name: name, dtype: dtype, shape: shape,
                               bytes: file.region(offset: dataStart + offsets[0], count: offsets[1] - offsets[0]))
        }
        return out
    }

    /// An array of integers, or nil if it is not one.
    static func ints(_ v: JSONValue?) -> [Int]? {
        guard let a = v?.arrayValue else { return nil }
        let ints = a.compactMap(\.intValue)
        return ints.count == a.count ? ints : nil
    }
}
