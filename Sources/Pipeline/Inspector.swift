import Checkpoints
import Foundation
import ModelFile
import TensorCore

/// `tramontane inspect`: what a checkpoint holds, in native names.
public struct InspectReport: Codable, Sendable {
    public struct Row: Codable, Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var bytes: Int
        public var codec: String?
        public var storedBytes: Int?
        public var ratio: Double?
        public var tiedTo: String?
        public var sha256: String?
        enum CodingKeys: String, CodingKey {
            case name, dtype, shape, bytes, codec, ratio, sha256
            case storedBytes = "stored_bytes", tiedTo = "tied_to"
        }
    }

    public var path: String
    public var format: String
    public var layout: String
    public var architecture: String?
    public var config: ModelConfig?
    public var tensors: [Row]
    public var parameters: Int
    public var totalBytes: Int
    public var storedBytes: Int?
    public var bitsPerWeight: Double
    public var dropped: [String]
    public var tokenizer: [String]
    public var provenance: JSONValue?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case path, format, layout, architecture, config, tensors, parameters, dropped, tokenizer, provenance, note
        case totalBytes = "total_bytes", storedBytes = "stored_bytes", bitsPerWeight = "bits_per_weight"
    }
}

public enum Inspector {
    public static func inspect(_ path: String, hash: Bool, progress: ProgressReporter = SilentProgress()) throws -> InspectReport {
        let c = try Checkpoint.open(path)
        var tensors = c.tensors
        var layout = c.layout
        var dropped: [String] = []
        var aliases: [String: String] = [:]
        var note: String?
        if c.config != nil {
            let model = try c.native()
            tensors = model.tensors
            dropped = model.dropped
            aliases = model.aliases
        } else {
            note = "no config.json or params.json found: tensors are listed under their source names"
            layout += " (not remapped)"
        }
        var items: [String: TMTItem] = [:]
        for i in c.tmt?.tensors ?? [] { items[i.name] = i }
        var rows: [InspectReport.Row] = []
        var params = 0, total = 0, stored = 0
        let decoded = BufferPool(keep: 1)   // the values being hashed, one tensor's slice at a time
        for (i, t) in tensors.enumerated() {
            progress.update(done: i, total: tensors.count, label: t.name)
            var row = InspectReport.Row(name: t.name, dtype: t.dtype.rawValue, shape: t.shape, bytes: t.byteCount)
            if let alias = aliases[t.name] {
                row.tiedTo = alias
            } else {
                params += t.elementCount
                total += t.byteCount
            }
            if let item = items[t.name] {
                row.codec = item.codec.rawValue
                row.storedBytes = item.storedSize
                row.ratio = item.compressionRatio
                stored += item.storedSize
            }
            if hash { row.sha256 = try TensorValues.sha256(t, pool: decoded) }
            rows.append(row)
        }
        progress.finish(label: "")
        return InspectReport(
            path: path, format: c.format.rawValue, layout: layout, architecture: c.config?.architecture,
            config: c.config, tensors: rows, parameters: params, totalBytes: total,
            storedBytes: c.tmt == nil ? nil : stored,
            bitsPerWeight: params == 0 ? 0 : Double((c.tmt == nil ? total : stored) * 8) / Double(params),
            dropped: dropped, tokenizer: c.tokenizers.map { "\($0.name) (\($0.kind))" },
            provenance: c.tmt?.metadata["provenance"], note: note)
    }
}
