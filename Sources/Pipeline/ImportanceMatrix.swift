import Checkpoints
import Foundation
import Inference
import TensorCore

/// Per linear layer, the mean squared activation of each input column over calibration text:
/// how much an error in that column of the weight matters. Stored as a safetensors file
/// (formats/imatrix.md): one f32 [columns] tensor per weight name, provenance in `__metadata__`.
public struct ImportanceMatrix: Sendable {
    public var columns: [String: [Float]]
    public var metadata: [String: String]

    public func weights(for tensor: String) -> [Float]? { columns[tensor] }

    /// Runs `tokens` through the model in chunks of `ctx` and accumulates Σx² per column.
    public static func collect(model: Transformer, tokens: [Int], ctx: Int, chunks: Int?, bos: Int?,
                               progress: ProgressReporter = SilentProgress()) throws -> ImportanceMatrix {
        let available = tokens.count / ctx
        let n = min(chunks ?? available, available)
        guard n > 0 else { throw ValidationFailure.invalid("\(tokens.count) tokens do not fill one chunk of \(ctx)") }
        var sums: [String: [Double]] = [:]
        var rows = 0
        let m = model
        m.observer = { name, x, cols in
            var s = sums[name] ?? [Double](repeating: 0, count: cols)
            let t = x.count / cols
            for r in 0..<t { for c in 0..<cols { let v = Double(x[r * cols + c]); s[c] += v * v } }
            sums[name] = s
        }
        for c in 0..<n {
            progress.update(done: c, total: n, label: "chunk \(c + 1)/\(n)")
            var chunk = Array(tokens[(c * ctx)..<((c + 1) * ctx)])
            if let bos { chunk[0] = bos }
            _ = try m.forward(chunk, cache: m.makeCache(capacity: ctx))
            rows += ctx
        }
        m.observer = nil
        progress.finish(label: "")
        return ImportanceMatrix(columns: sums.mapValues { $0.map { Float($0 / Double(rows)) } },
                                metadata: ["tokens": String(rows), "chunks": String(n), "ctx": String(ctx)])
    }

    /// Writes the safetensors file (atomically) to `target`, checked as every output is.
    public func write(to target: OutputTarget) throws {
        var header: [String: JSONValue] = ["__metadata__": .object(metadata.mapValues { .string($0) })]
        var offset = 0
        let names = columns.keys.sorted()
        for name in names {
            let bytes = columns[name, default: []].count * 4
            header[name] = .object(["dtype": .string("F32"), "shape": .array([.int(Int64(bytes / 4))]),
                                    "data_offsets": .array([.int(Int64(offset)), .int(Int64(offset + bytes))])])
            offset += bytes
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var json = [UInt8](try enc.encode(JSONValue.object(header)))
        while (json.count + 8) % 8 != 0 { json.append(0x20) }
        let out = try AtomicOutputFile(target: target)
        var prefix: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix += $0 }
        try prefix.withUnsafeBytes { try out.write($0) }
        try json.withUnsafeBytes { try out.write($0) }
        for name in names { try columns[name, default: []].withUnsafeBytes { try out.write($0) } }
        try out.commit()
    }

    public static func read(_ path: String) throws -> ImportanceMatrix {
        let file = try MappedFile(path: path)
        let (tensors, metadata) = try Safetensors.read(file)
        var columns: [String: [Float]] = [:]
        for t in tensors {
            guard t.dtype == .f32, t.shape.count == 1 else {
                throw CheckpointError.invalidTensor(path: path, tensor: t.name, detail: "an importance matrix holds f32 vectors")
            }
            columns[t.name] = try t.load().withBytes { b in (0..<t.elementCount).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
        }
        return ImportanceMatrix(columns: columns, metadata: metadata)
    }
}
