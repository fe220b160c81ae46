import Checkpoints
import Foundation
import Quantization
import TensorCore

/// `tramontane export MODEL -o DIR --to mlx`: the folder mlx-lm loads (`mlx_lm.load`): Hugging
/// Face names and q/k order, each block-format linear layer (and embedding) as MLX affine
/// `weight` (packed uint32), `scales` and `biases`, float tensors in the model dtype, and a
/// `config.json` with `quantization: {group_size, bits}` plus an entry per layer whose bits
/// differ. Q4_0, Q4_1 and Q8_0 map exactly (`MLXAffine`), and Q4_K too with f32 scales; else
/// Q4_K is requantized to 4 bits and Q5_0, Q5_1 and Q6_K to 8 bits, each by the target format's
/// search quantizer, and listed.
public enum MLXExport {
    public enum ElementType: String, CaseIterable, Sendable {
        /// MLX's usual dtype; ggml's f16 scales stay exact.
        case f16
        /// Activations in f32 as well (for comparing against an f32 run).
        case f32
        var dtype: DType { self == .f16 ? .f16 : .f32 }
        var torchName: String { self == .f16 ? "float16" : "float32" }
    }

    public struct Options: Sendable {
        public var dtype: ElementType = .f16
        public var replacing = false
        public init() {}
    }

    public struct Requantized: Codable, Sendable {
        public var tensor: String
        public var from: String
        public var bits: Int
    }

    public struct Report: Codable, Sendable {
        public var output: String
        public var dtype: String
        public var files: [String]
        public var groupSize: Int
        public var bits: Int
        /// Layers (by MLX module path) whose tensors were mapped without requantizing, by format.
        public var exact: [String: Int]
        public var requantized: [Requantized]
        /// Tensors written as floats (norms, and weights that were not in a block format).
        public var floats: Int
        public var bytes: Int
        public var tokenizer: [String]
        public var seconds: Double
        enum CodingKeys: String, CodingKey {
            case output, dtype, files, bits, exact, requantized, floats, bytes, tokenizer, seconds
            case groupSize = "group_size"
        }
    }

    /// What one planned tensor becomes.
    struct Item {
        var tensor: ExportTensor
        /// The module path (name without `.weight`) when quantized.
        var module: String?
        var bits: Int
        /// The format whose blocks are mapped (the source's, or the requantization target).
        var via: DType?
    }

    public static func export(_ source: String, to output: String, options: Options, progress: ProgressReporter = SilentProgress()) throws -> Report {
        let start = Date()
        let checkpoint = try Checkpoint.open(source)
        let model = try checkpoint.native()
        let dir = try OutputDirectory(output, inputs: checkpoint.inputs, replacing: options.replacing)
        let plan = try ExportLayout.plan(model, layout: "hf")
        let floatType = options.dtype.dtype
        let floatName = SafetensorsWriter.name(of: floatType) ?? "F16"
        let g = MLXAffine.groupSize

        var items: [Item] = []
        var entries: [SafetensorsWriter.Entry] = []
        var exact: [String: Int] = [:]
        var requantized: [Requantized] = []
        for t in plan {
            let dtype = t.source.dtype
            let via = MLXAffine.exactBits(dtype, scales: floatType) != nil ? dtype : MLXAffine.requantizationTarget(dtype)
            if let via, let bits = MLXAffine.exactBits(via, scales: floatType), t.shape.count == 2, t.columns % g == 0, t.name.hasSuffix(".weight") {
                let module = String(t.name.dropLast(".weight".count))
                items.append(Item(tensor: t, module: module, bits: bits, via: via))
                entries.append(.init(name: t.name, dtype: "U32", shape: [t.rows, t.columns * bits / 32], byteCount: t.rows * t.columns * bits / 8))
                let groups = t.rows * (t.columns / g)
                entries.append(.init(name: module + ".scales", dtype: floatName, shape: [t.rows, t.columns / g], byteCount: groups * floatType.blockBytes))
                entries.append(.init(name: module + ".biases", dtype: floatName, shape: [t.rows, t.columns / g], byteCount: groups * floatType.blockBytes))
                if via == dtype { exact[dtype.rawValue, default: 0] += 1 } else { requantized.append(Requantized(tensor: t.name, from: dtype.rawValue, bits: bits)) }
            } else {
                guard dtype.isFloat || dtype.isBlockQuantized else {
                    throw CheckpointError.unsupportedDType(path: t.source.origin, tensor: t.source.name, dtype: dtype.rawValue)
                }
                items.append(Item(tensor: t, module: nil, bits: 0, via: nil))
                entries.append(.init(name: t.name, dtype: floatName, shape: t.shape, byteCount: t.shape.reduce(1, *) * floatType.blockBytes))
            }
        }
        // The most common bits are the default; the others are named layer by layer.
        let quantized = items.filter { $0.module != nil }
        let counts = Dictionary(grouping: quantized, by: \.bits).mapValues(\.count)
        let bits = counts.max { ($0.value, $0.key) < ($1.value, $1.key) }?.key ?? 4

        var tokenizers: [String] = []
        try dir.committing {
            let writer = try SafetensorsWriter(target: dir.target("model.safetensors"), tensors: entries, metadata: ["format": "mlx"])
            try writer.committing {
                for (i, item) in items.enumerated() {
                    progress.update(done: i, total: items.count, label: item.tensor.name)
                    if let via = item.via { try writeQuantized(item.tensor, via: via, bits: item.bits, floatType: floatType, to: writer) }
                    else { try writeFloats(item.tensor, floatType: floatType, to: writer) }
                }
            }
            var quantization: [String: JSONValue] = ["group_size": .int(Int64(g)), "bits": .int(Int64(bits))]
            for item in quantized where item.bits != bits {
                if let m = item.module { quantization[m] = .object(["group_size": .int(Int64(g)), "bits": .int(Int64(item.bits))]) }
            }
            var config = model.config.huggingFaceJSON(dtype: options.dtype.torchName).objectValue ?? [:]
            // A model with no block-format weight is a plain float model to mlx-lm.
            if !quantized.isEmpty {
                config["quantization"] = .object(quantization)
                config["quantization_config"] = .object(quantization)
            }
            try SafetensorsExport.writeJSON(.object(config), "config.json", in: dir)
            try SafetensorsExport.writeJSON(model.config.generationJSON, "generation_config.json", in: dir)
            tokenizers = try ExportTokenizer.write(checkpoint, into: dir)
        }
        progress.finish(label: "wrote \(output)")
        return Report(output: output, dtype: options.dtype.rawValue,
                      files: ["model.safetensors", "config.json", "generation_config.json"] + tokenizers,
                      groupSize: g, bits: bits, exact: exact, requantized: requantized,
                      floats: items.count - quantized.count, bytes: entries.reduce(0) { $0 + $1.byteCount },
                      tokenizer: tokenizers, seconds: Date().timeIntervalSince(start))
    }

    /// A block-format tensor as weight, scales and biases (held for this one tensor, since the
    /// three are consecutive tensors of the file).
    static func writeQuantized(_ t: ExportTensor, via: DType, bits: Int, floatType: DType, to writer: SafetensorsWriter) throws {
        let rows = t.rows, columns = t.columns, groups = columns / MLXAffine.groupSize
        let wordsPerRow = columns * bits / 32
        var words = [UInt32](repeating: 0, count: rows * wordsPerRow)
        var scales = [Float](repeating: 0, count: rows * groups)
        var biases = [Float](repeating: 0, count: rows * groups)
        var row = 0
        func convert(_ stored: UnsafeRawBufferPointer, _ n: Int) throws {
            let rowBytes = try via.rowBytes(columns)
            guard let s = stored.baseAddress else { return }
            words.withUnsafeMutableBufferPointer { w in scales.withUnsafeMutableBufferPointer { sc in biases.withUnsafeMutableBufferPointer { bi in
                guard let w = w.baseAddress, let sc = sc.baseAddress, let bi = bi.baseAddress else { return }
                for k in 0..<n {
                    MLXAffine.convertRow(s + k * rowBytes, dtype: via, columns: columns, words: w + (row + k) * wordsPerRow,
                                         scales: sc + (row + k) * groups, biases: bi + (row + k) * groups)
                }
            } } }
            row += n
        }
        if via == t.source.dtype {
            try ExportRows.forEachBatch(t) { bytes, n in try convert(bytes, n) }
        } else {
            // Requantized by the target format's search quantizer, block by block.
            guard let format = BlockFormats.format(via) else { throw TensorError.unsupported("no block format \(via.rawValue)") }
            let rowBytes = try via.rowBytes(columns)
            var blocks = [UInt8](repeating: 0, count: 0)
            try ExportRows.forEachFloatBatch(t) { values, n in
                if blocks.count < n * rowBytes { blocks = [UInt8](repeating: 0, count: n * rowBytes) }
                try blocks.withUnsafeMutableBytes { out in
                    guard let o = out.baseAddress, let v = values.baseAddress else { return }
                    for b in 0..<(n * groups) {
                        format.quantize(v + b * MLXAffine.groupSize, weights: nil, into: o + b * via.blockBytes)
                    }
                    try convert(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<(n * rowBytes)]), n)
                }
            }
        }
        try words.withUnsafeBytes { try writer.write($0) }
        for values in [scales, biases] {
            try writeEncoded(values, floatType: floatType, tensor: t.name, to: writer)
        }
    }

    static func writeFloats(_ t: ExportTensor, floatType: DType, to writer: SafetensorsWriter) throws {
        if t.source.dtype == floatType {
            try ExportRows.forEachBatch(t) { bytes, _ in try writer.write(bytes) }
            return
        }
        try ExportRows.forEachFloatBatch(t) { values, _ in try writeEncoded(Array(values), floatType: floatType, tensor: t.name, to: writer) }
    }

    static func writeEncoded(_ values: [Float], floatType: DType, tensor: String, to writer: SafetensorsWriter) throws {
        var bytes = [UInt8](repeating: 0, count: values.count * floatType.blockBytes)
        do {
            try values.withUnsafeBufferPointer { v in try bytes.withUnsafeMutableBytes { try FloatConversion.fromFloat(v, to: floatType, into: $0, tensor: tensor) } }
        } catch TensorError.valueOutOfRange(let name, let value, _) {
            throw TensorError.unsupported("\(name): the MLX scale or bias \(value) does not fit in f16 (a Q4_0 scale above 8188 or a Q8_0 scale above 511 makes −8d or −128d overflow); export with --dtype f32")
        }
        try bytes.withUnsafeBytes { try writer.write($0) }
    }
}
