import Checkpoints
import Foundation
import Quantization
import TensorCore

/// `tramontane export MODEL -o DIR --to safetensors`: any readable checkpoint (a `.tmt` above
/// all) back out as a Hugging Face folder (`config.json`, `generation_config.json`, the
/// tokenizer files, `model.safetensors` or shards with `model.safetensors.index.json`; q/k rows
/// in HF's rotary order) or in Mistral's native layout (`consolidated.safetensors`,
/// `params.json`). Block-format tensors are dequantized; a float tensor already in the target
/// type is copied byte for byte, so HF BF16 → `.tmt` → HF BF16 gives the original bytes. Tensors
/// are read and written one at a time, into a folder that appears only when complete.
public enum SafetensorsExport {
    public enum Layout: String, CaseIterable, Sendable { case hf, native }

    public enum ElementType: String, CaseIterable, Sendable {
        case bf16, f16, f32
        public var dtype: DType {
            switch self {
            case .bf16: return .bf16
            case .f16: return .f16
            case .f32: return .f32
            }
        }
        /// transformers' name for it (`torch_dtype`).
        public var torchName: String {
            switch self {
            case .bf16: return "bfloat16"
            case .f16: return "float16"
            case .f32: return "float32"
            }
        }
    }

    public struct Options: Sendable {
        public var layout: Layout = .hf
        public var dtype: ElementType = .bf16
        /// Largest shard in bytes (as transformers' `max_shard_size`); one file when it all fits.
        public var shardSize = 5_000_000_000
        /// Replace an existing output folder (`--force`); never one that holds an input.
        public var replacing = false
        public init() {}
    }

    public struct Report: Codable, Sendable {
        public var output: String
        public var layout: String
        public var dtype: String
        public var files: [String]
        public var tensors: Int
        public var bytes: Int
        /// Tensors copied byte for byte (already in the target type).
        public var copied: Int
        /// Block-format tensors decoded to floats.
        public var dequantized: [String]
        public var tokenizer: [String]
        public var seconds: Double
    }

    public static func export(_ source: String, to output: String, options: Options, progress: ProgressReporter = SilentProgress()) throws -> Report {
        let start = Date()
        let checkpoint = try Checkpoint.open(source)
        let model = try checkpoint.native()
        let dir = try OutputDirectory(output, inputs: checkpoint.inputs, replacing: options.replacing)
        let plan = try ExportLayout.plan(model, layout: options.layout.rawValue)
        let target = options.dtype.dtype
        let size = target.blockBytes
        let stName = SafetensorsWriter.name(of: target) ?? "BF16"
        let entries = plan.map { SafetensorsWriter.Entry(name: $0.name, dtype: stName, shape: $0.shape, byteCount: $0.shape.reduce(1, *) * size) }

        // Shards as transformers cuts them: in order, a new shard when the next tensor would
        // pass the limit (a tensor larger than the limit gets a shard of its own).
        var shards: [[Int]] = [[]]
        var filled = 0
        for (i, e) in entries.enumerated() {
            if !shards[shards.count - 1].isEmpty && filled + e.byteCount > options.shardSize {
                shards.append([])
                filled = 0
            }
            shards[shards.count - 1].append(i)
            filled += e.byteCount
        }
        let names: [String]
        switch options.layout {
        case .native: names = shards.count == 1 ? ["consolidated.safetensors"]
            : shards.indices.map { String(format: "consolidated-%05d-of-%05d.safetensors", $0 + 1, shards.count) }
        case .hf: names = shards.count == 1 ? ["model.safetensors"]
            : shards.indices.map { String(format: "model-%05d-of-%05d.safetensors", $0 + 1, shards.count) }
        }

        var copied = 0
        var dequantized: [String] = []
        var done = 0
        var files = names
        var tokenizers: [String] = []
        try dir.committing {
            for (s, shard) in shards.enumerated() {
                let writer = try SafetensorsWriter(target: dir.target(names[s]), tensors: shard.map { entries[$0] },
                                                   metadata: ["format": "pt"])
                try writer.committing {
                    for i in shard {
                        let t = plan[i]
                        progress.update(done: done, total: plan.count, label: t.name)
                        if t.source.dtype == target {
                            try ExportRows.forEachBatch(t) { bytes, _ in try writer.write(bytes) }
                            copied += 1
                        } else {
                            guard t.source.dtype.isFloat || t.source.dtype.isBlockQuantized else {
                                throw CheckpointError.unsupportedDType(path: t.source.origin, tensor: t.source.name, dtype: t.source.dtype.rawValue)
                            }
                            if t.source.dtype.isBlockQuantized && t.expert ?? 0 == 0 { dequantized.append(t.source.name) }
                            var encoded: [UInt8] = []
                            try ExportRows.forEachFloatBatch(t) { values, _ in
                                if encoded.count < values.count * size { encoded = [UInt8](repeating: 0, count: values.count * size) }
                                try encoded.withUnsafeMutableBytes { dst in
                                    let d = UnsafeMutableRawBufferPointer(rebasing: dst[0..<(values.count * size)])
                                    try FloatConversion.fromFloat(values, to: target, into: d, tensor: t.name)
                                    try writer.write(UnsafeRawBufferPointer(d))
                                }
                            }
                        }
                        done += 1
                    }
                }
            }
            switch options.layout {
            case .hf:
                try writeJSON(model.config.huggingFaceJSON(dtype: options.dtype.torchName), "config.json", in: dir)
                try writeJSON(model.config.generationJSON, "generation_config.json", in: dir)
                files += ["config.json", "generation_config.json"]
                if shards.count > 1 {
                    var map: [String: JSONValue] = [:]
                    for (s, shard) in shards.enumerated() { for i in shard { map[entries[i].name] = .string(names[s]) } }
                    let total = entries.reduce(0) { $0 + $1.byteCount }
                    try writeJSON(.object(["metadata": .object(["total_size": .int(Int64(total))]), "weight_map": .object(map)]),
                                  "model.safetensors.index.json", in: dir)
                    files.append("model.safetensors.index.json")
                }
            case .native:
                try writeJSON(model.config.paramsJSON, "params.json", in: dir)
                files.append("params.json")
            }
            tokenizers = try ExportTokenizer.write(checkpoint, into: dir)
            files += tokenizers
        }
        progress.finish(label: "wrote \(output)")
        return Report(output: output, layout: options.layout.rawValue, dtype: options.dtype.rawValue, files: files,
                      tensors: plan.count, bytes: entries.reduce(0) { $0 + $1.byteCount }, copied: copied,
                      dequantized: dequantized, tokenizer: tokenizers, seconds: Date().timeIntervalSince(start))
    }

    /// A small JSON file of the folder, pretty-printed with sorted keys.
    static func writeJSON(_ value: JSONValue, _ name: String, in dir: OutputDirectory) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeFile(Array(try e.encode(value)) + [0x0A], name, in: dir)
    }

    static func writeFile(_ bytes: [UInt8], _ name: String, in dir: OutputDirectory) throws {
        let f = try AtomicOutputFile(target: dir.target(name), direct: false)
        try bytes.withUnsafeBytes { try f.write($0) }
        try f.commit()
    }

    /// `5GB`, `500MB`, `2GiB`, `1048576`: a size in bytes as transformers' `max_shard_size` spells it.
    public static func parseSize(_ s: String) -> Int? {
        let units: [(String, Int)] = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
                                      ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1)]
        let u = s.uppercased().trimmingCharacters(in: .whitespaces)
        for (suffix, factor) in units where u.hasSuffix(suffix) {
            guard let n = Double(u.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n > 0, n * Double(factor) < 1e18 else { return nil }
            return Int(n * Double(factor))
        }
        guard let n = Int(u), n > 0 else { return nil }
        return n
    }
}
