import TensorCore

/// A `torch.save` zip archive (`pytorch_model.bin`, `consolidated.00.pth`): `PREFIX/data.pkl`
/// describes the state dict, `PREFIX/data/KEY` hold the storages, mapped in place.
package enum PyTorchArchive {
    package static func read(_ file: MappedFile) throws -> [SourceTensor] {
        let path = file.path
        if file.bytes.count >= 2, file.bytes[0] == 0x80, file.bytes[1] <= 5, !ZipArchive.hasMagic(file.bytes) {
            throw CheckpointError.unrecognizedFormat(path: path, detail: "a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current torch or convert to safetensors")
        }
        let zip = try ZipArchive(file.bytes, path: path)
        let pickles = zip.entries.filter { $0.name.hasSuffix("/data.pkl") || $0.name == "data.pkl" }
        guard pickles.count == 1, let pkl = pickles.first else {
            throw CheckpointError.invalidZip(path: path, detail: "expected one data.pkl, found \(pickles.count)")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        if let order = zip.entry(prefix + "byteorder"), order.method == 0 {
            let text = String(decoding: file.region(offset: order.dataOffset, count: order.compressedSize).bytes, as: UTF8.self)
            guard text == "little" else { throw CheckpointError.unrecognizedFormat(path: path, detail: "byte order \(text) is not supported") }
        }
        guard pkl.method == 0 else { throw CheckpointError.invalidZip(path: path, detail: "data.pkl is compressed (method \(pkl.method)); torch.save writes stored entries") }
        let pickle = try Unpickler.load(file.region(offset: pkl.dataOffset, count: pkl.compressedSize).bytes, path: path)
        let root = pickle.root

        // Each dict is walked once: the memo can make a dict hold itself, or the same dict sit
        // under many keys at every level (exponential in the depth if walked as a tree).
        var found: [(String, TorchTensor)] = []
        var walked: [ObjectIdentifier: String] = [:]
        func walk(_ d: PickleDict, _ prefixName: String, depth: Int) throws {
            guard depth < 8 else { return }
            if let first = walked.updateValue(prefixName, forKey: ObjectIdentifier(d)) {
                throw CheckpointError.invalidHeader(path: path, detail: "data.pkl: the dict at '\(prefixName)' is the one at '\(first.isEmpty ? "(the root)" : first)' (a dict that contains itself or is shared); a state dict is a tree")
            }
            for (k, value) in d.items {
                guard case .string(let key) = k else { continue }
                let name = prefixName.isEmpty ? key : "\(prefixName).\(key)"
                switch value {
                case .tensor(let t): found.append((name, t))
                case .dict(let inner): try walk(inner, name, depth: depth + 1)
                default: continue
                }
            }
        }
        try withExtendedLifetime(pickle) {
            if case .dict(let d) = root { try walk(d, "", depth: 0) }
            guard !found.isEmpty else {
                throw CheckpointError.unrecognizedFormat(path: path, detail: "the pickle holds no dict of tensors (root is \(root.description))")
            }
        }
        // Unwrap the common {"model": {...}} / {"state_dict": {...}} wrappers.
        if found.allSatisfy({ $0.0.hasPrefix("model.model.") || $0.0.hasPrefix("model.lm_head") }) || found.allSatisfy({ $0.0.hasPrefix("state_dict.") }) {
            found = found.map { (String($0.0.drop(while: { $0 != "." }).dropFirst()), $0.1) }
        }
        return try found.map { name, t in try tensor(name, t, archive: zip, prefix: prefix, file: file) }
    }

    static func tensor(_ name: String, _ t: TorchTensor, archive: ZipArchive, prefix: String, file: MappedFile) throws -> SourceTensor {
        let path = file.path
        func bad(_ s: String) -> CheckpointError { .invalidTensor(path: path, tensor: name, detail: s) }
        guard let entry = archive.entry(prefix + "data/" + t.storage.key) else { throw bad("storage \(t.storage.key) is missing from the archive") }
        guard entry.method == 0 else { throw bad("storage \(t.storage.key) is compressed") }
        let es = t.storage.dtype.blockBytes
        let (storageBytes, o1) = t.storage.count.multipliedReportingOverflow(by: es)
        guard !o1, storageBytes <= entry.compressedSize else {
            throw bad("storage \(t.storage.key) claims \(t.storage.count) elements, its entry has \(entry.compressedSize) bytes")
        }
        let n: Int
        do { n = try elementCount(t.shape) } catch { throw bad("\(error)") }
        // The furthest element the view touches must lie inside the storage (computed with
        // checked arithmetic: offsets and strides come from the file).
        var last = t.offset
        for (d, s) in zip(t.shape, t.stride) where d > 0 {
            let (m, o1) = (d - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(m)
            guard !o1, !o2 else { throw bad("view (offset \(t.offset), size \(t.shape), stride \(t.stride)) reaches past element \(Int.max)") }
            last = sum
        }
        guard n == 0 || last < t.storage.count else {
            throw bad("view (offset \(t.offset), size \(t.shape), stride \(t.stride)) reaches element \(last) of a \(t.storage.count)-element storage")
        }
        // More elements than the storage holds means the view repeats elements (a broadcast,
        // stride-0 view): its contiguous copy would take memory the file does not hold.
        guard n <= t.storage.count else {
            throw bad("view (size \(t.shape), stride \(t.stride)) has \(n) elements over a \(t.storage.count)-element storage: a view that repeats elements (broadcast, stride 0) is refused; save the tensor with .contiguous() or .clone()")
        }
        let base = entry.dataOffset
        let dtype = t.storage.dtype
        let origin = "\(path):\(entry.name)"
        if isContiguous(t.shape, t.stride) {
            return SourceTensor(name: name, dtype: dtype, shape: t.shape, origin: origin) {
                file.region(offset: base + t.offset * es, count: n * es)
            }
        }
        // A strided view (a saved transpose): gather it into a contiguous copy when loaded.
        return SourceTensor(name: name, dtype: dtype, shape: t.shape, origin: origin) {
            let src = file.region(offset: base, count: storageBytes).bytes
            return try ByteRegion.allocate(count: n * es) { dst in
                var index = [Int](repeating: 0, count: t.shape.count)
                for i in 0..<n {
                    var e = t.offset
                    for k in 0..<index.count { e += index[k] * t.stride[k] }
                    dst.baseAddress!.advanced(by: i * es).copyMemory(from: src.baseAddress!.advanced(by: e * es), byteCount: es)
                    var k = index.count - 1
                    while k >= 0 {
                        index[k] += 1
                        if index[k] < t.shape[k] { break }
                        index[k] = 0
                        k -= 1
                    }
                }
            }
        }
    }

    static func isContiguous(_ shape: [Int], _ stride: [Int]) -> Bool {
        var expected = 1
        for k in stride.indices.reversed() {
            if shape[k] != 1 && stride[k] != expected { return false }
            expected *= shape[k]
        }
        return true
    }
}
