import Checkpoints
import Foundation
import Quantization
import TensorCore

/// `tramontane export MODEL -o OUT.gguf`: any checkpoint Tramontane reads → a GGUF v3 file of
/// llama.cpp's `llama` architecture (formats/gguf-export.md). Native names become llama.cpp's
/// (`formats/names/gguf.json` read backwards); q/k rows need no permutation, since GGUF's
/// llama q/k rows are in the native interleaved rotary order (the import un-permutes nothing,
/// so the export is its exact inverse); experts are stacked into `ffn_*_exps` as llama.cpp
/// loads them. Every tensor in a type ggml has is copied byte for byte; tensors whose rows end
/// in Tramontane's tail blocks (Q4_K/Q6_K rows not a multiple of 256) are re-encoded to the
/// type llama.cpp itself falls back to for such rows, or refused with `exact`; F16/BF16
/// vectors (norms) are widened to F32, as llama.cpp needs them.
public enum GGUFExport {
    public struct Options: Sendable {
        /// Refuse instead of re-encoding tensors that have no GGUF type (`--exact`).
        public var exact = false
        /// Replace an existing output file (`--force`); an input, a FIFO or a device never is.
        public var replacing = false
        /// `llama.context_length`; nil: the source GGUF's, else `defaultContextLength`.
        public var contextLength: Int?
        /// The command line, recorded in the provenance.
        public var command: [String] = []
        public var threads = availableCores
        public init() {}
    }

    /// A tensor whose storage ggml has no type for, and what it became.
    public struct Reencoded: Codable, Sendable {
        public var tensor: String
        public var from: String
        public var to: String
        /// Bits per weight of the new encoding.
        public var bitsPerWeight: Double
        /// RMS difference between the values before and after.
        public var rmse: Double
        enum CodingKeys: String, CodingKey {
            case tensor, from, to, rmse
            case bitsPerWeight = "bits_per_weight"
        }
    }

    public struct Report: Codable, Sendable {
        public var output: String
        public var tensors: Int
        public var copied: Int
        public var reencoded: [Reencoded]
        /// F16/BF16 vectors written as F32 (exact).
        public var widened: [String]
        public var fileType: Int
        /// Bits per weight over all tensors of the file.
        public var bitsPerWeight: Double
        public var outputBytes: Int
        public var seconds: Double
        enum CodingKeys: String, CodingKey {
            case output, tensors, copied, reencoded, widened, seconds
            case fileType = "file_type", bitsPerWeight = "bits_per_weight", outputBytes = "output_bytes"
        }
    }

    /// What llama.cpp's `llama_model_loader` needs when no context length is known (the .tmt
    /// config does not carry one): llama.cpp's own default context.
    public static let defaultContextLength = 4096

    /// The type llama-quant.cpp `tensor_type_fallback` uses for a row its 256-weight type does
    /// not divide: the most bits per weight an export may give such a tensor.
    static func fallback(_ t: DType) -> DType? {
        switch t {
        case .q4_k: return .q5_0
        case .q5_k: return .q5_1
        case .q6_k: return .q8_0
        case .q3_k, .q2_k: return .q4_0
        case .iq4_xs: return .iq4_nl
        case .f64, .f32, .f16, .bf16, .i64, .i32, .i16, .i8, .u8, .bool,
             .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl: return nil   // no tail blocks
        }
    }

    public static func export(_ source: String, to output: String, options: Options, progress: ProgressReporter = SilentProgress()) throws -> Report {
        let start = Date()
        let checkpoint = try Checkpoint.open(source)
        let target = try OutputTarget(output, inputs: checkpoint.inputs, replacing: options.replacing)
        let model = try checkpoint.native()
        try model.checkAgainstConfig()
        let reencoder = Reencoder(threads: options.threads)
        var (entries, reencoded, widened) = try plan(model, exact: options.exact, reencoder: reencoder)
        let metadata = try self.metadata(checkpoint, model: model, entries: entries, options: options)
        let out = try AtomicOutputFile(target: target)
        let total = entries.reduce(0) { $0 + $1.byteCount }
        var done = 0
        try out.committing {
            try GGUFWriter.write(metadata: metadata, tensors: entries, to: out) { i, name in
                done += entries[i].byteCount
                progress.update(done: done, total: total, label: name)
            }
        }
        for i in reencoded.indices { reencoded[i].rmse = reencoder.rmse[reencoded[i].tensor] ?? 0 }
        progress.finish(label: "wrote \(output)")
        let weights = entries.reduce(0) { $0 + $1.shape.reduce(1, *) }
        return Report(output: output, tensors: entries.count, copied: entries.count - reencoded.count - widened.count,
                      reencoded: reencoded, widened: widened,
                      fileType: fileType(entries), bitsPerWeight: weights == 0 ? 0 : Double(total * 8) / Double(weights),
                      outputBytes: out.bytesWritten, seconds: Date().timeIntervalSince(start))
    }

    /// Which tensors the file gets, under which names and types, in native order (embeddings,
    /// then each block's tensors, then the final norm and output).
    static func plan(_ model: NativeModel, exact: Bool, reencoder: Reencoder) throws -> ([GGUFTensorEntry], [Reencoded], [String]) {
        // Widened vectors and stacked experts, recycled as the writer lets each go (every byte is written).
        let copies = BufferPool(keep: 1)
        let map = try NameMap.named("gguf")
        var entries: [GGUFTensorEntry] = []
        var reencoded: [Reencoded] = []
        var refused: [String] = []
        var widened: [String] = []
        // Per-expert tensors, gathered into one stacked tensor per layer and projection.
        var stacks: [String: (index: Int, experts: [Int: SourceTensor])] = [:]
        for t in model.tensors where model.aliases[t.name] == nil {
            guard let (rule, name) = map.source(forNative: t.name) else {
                throw CheckpointError.invalidTensor(path: t.origin, tensor: t.name, detail: "no GGUF name for this native tensor (formats/names/gguf.json)")
            }
            guard let ggml = t.dtype.traits.ggmlType else {
                throw CheckpointError.unsupportedDType(path: t.origin, tensor: t.name, dtype: "\(t.dtype.rawValue) (ggml has no such tensor type)")
            }
            if rule.source.contains("{E}") {
                // blk.N.ffn_gate.E.weight → blk.N.ffn_gate_exps.weight
                let parts = name.split(separator: ".")
                guard parts.count == 5, let e = Int(parts[3]) else {
                    throw CheckpointError.invalidTensor(path: t.origin, tensor: t.name, detail: "expert name \(name) is not blk.N.ffn_X.E.weight")
                }
                let stacked = "\(parts[0]).\(parts[1]).\(parts[2])_exps.weight"
                if stacks[stacked] == nil {
                    stacks[stacked] = (entries.count, [:])
                    entries.append(GGUFTensorEntry(name: stacked, ggmlType: ggml, shape: [], byteCount: 0) { throw PipelineError.internal("unfilled stack") })
                }
                stacks[stacked]?.experts[e] = t
                continue
            }
            if let columns = t.shape.last, t.dtype.hasTailBlocks(columns: columns) {
                guard let to = fallback(t.dtype) else { throw PipelineError.internal("\(t.dtype) has tail blocks but no fallback") }
                if exact { refused.append("\(t.name) (\(t.dtype.rawValue), rows of \(columns))"); continue }
                let bytes = try to.byteCount(shape: t.shape)
                entries.append(GGUFTensorEntry(name: name, ggmlType: to.traits.ggmlType ?? 0, shape: t.shape, byteCount: bytes) {
                    try reencoder.run(t, to: to)
                })
                reencoded.append(Reencoded(tensor: t.name, from: t.dtype.rawValue, to: to.rawValue, bitsPerWeight: to.bitsPerWeight, rmse: 0))
                continue
            }
            if t.shape.count == 1, t.dtype == .f16 || t.dtype == .bf16 {
                // llama.cpp keeps vectors (norms) in F32 — its CPU kernels multiply an F32 row only
                // by F32 weights there — and its converter writes them so; widening is exact.
                entries.append(GGUFTensorEntry(name: name, ggmlType: 0, shape: t.shape, byteCount: 4 * t.elementCount) {
                    let src = try t.load()
                    return try copies.region(count: 4 * t.elementCount) { dst in
                        try src.withBytes { b in try FloatConversion.toFloat(b, dtype: t.dtype, into: dst.bindMemory(to: Float.self)) }
                    }
                })
                widened.append(t.name)
                continue
            }
            entries.append(GGUFTensorEntry(name: name, ggmlType: ggml, shape: t.shape, byteCount: t.byteCount, load: t.load))
        }
        guard refused.isEmpty else { throw PipelineError.noGGUFType(refused) }
        for (name, stack) in stacks {
            let experts = stack.experts.sorted { $0.key < $1.key }.map(\.value)
            guard let first = experts.first, experts.count == model.config.moe?.numExperts ?? experts.count,
                  stack.experts.keys.sorted() == Array(0..<experts.count),
                  experts.allSatisfy({ $0.dtype == first.dtype && $0.shape == first.shape }) else {
                throw CheckpointError.invalidTensor(path: experts.first?.origin ?? "", tensor: name,
                                                    detail: "experts 0..<\(model.config.moe?.numExperts ?? 0) must all be present with one dtype and shape to be stacked")
            }
            if let columns = first.shape.last, first.dtype.hasTailBlocks(columns: columns) {
                throw PipelineError.noGGUFType(experts.map { "\($0.name) (\($0.dtype.rawValue), rows of \(columns))" })
            }
            let each = first.byteCount
            entries[stack.index] = GGUFTensorEntry(name: name, ggmlType: first.dtype.traits.ggmlType ?? 0, shape: [experts.count] + first.shape,
                                                   byteCount: each * experts.count) {
                try copies.region(count: each * experts.count) { dst in
                    for (i, e) in experts.enumerated() {
                        let r = try e.load()
                        guard r.count == each else {
                            throw CheckpointError.invalidTensor(path: e.origin, tensor: e.name, detail: "\(r.count) bytes, expected \(each)")
                        }
                        r.withBytes { src in
                            if let s = src.baseAddress, let d = dst.baseAddress { (d + i * each).copyMemory(from: s, byteCount: each) }
                        }
                    }
                }
            }
        }
        return (entries, reencoded, widened)
    }

    /// llama.cpp's `llama_ftype` for the type most weights have (by element count, 2-D and
    /// larger tensors): what `general.file_type` reports, and `llama-cli` prints.
    static func fileType(_ entries: [GGUFTensorEntry]) -> Int {
        var elements: [UInt32: Int] = [:]
        for e in entries where e.shape.count >= 2 { elements[e.ggmlType, default: 0] += e.shape.reduce(1, *) }
        guard let dominant = elements.max(by: { $0.value < $1.value })?.key else { return 0 }
        switch dominant {
        case 0: return 0            // ALL_F32
        case 1: return 1            // MOSTLY_F16
        case 2: return 2            // MOSTLY_Q4_0
        case 3: return 3            // MOSTLY_Q4_1
        case 6: return 8            // MOSTLY_Q5_0
        case 7: return 9            // MOSTLY_Q5_1
        case 8: return 7            // MOSTLY_Q8_0
        case 12: return elements[14] != nil ? 15 : 14   // MOSTLY_Q4_K_M / _S
        case 14: return 18          // MOSTLY_Q6_K
        case 30: return 32          // MOSTLY_BF16
        default: return 0
        }
    }

    /// The `general.*` and `llama.*` keys, then the tokenizer's.
    static func metadata(_ checkpoint: Checkpoint, model: NativeModel, entries: [GGUFTensorEntry], options: Options) throws -> [(key: String, value: GGUFValue)] {
        let c = model.config
        let sourceGGUF = checkpoint.format == .gguf ? checkpoint.metadata : nil
        let name = sourceGGUF?["general.name"]?.stringValue
            ?? ((checkpoint.path as NSString).lastPathComponent as NSString).deletingPathExtension
        let context = options.contextLength ?? sourceGGUF?["\(c.architecture).context_length"]?.intValue ?? defaultContextLength
        func u32(_ x: Int) -> GGUFValue { .u32(UInt32(clamping: x)) }
        var provenance: [String: JSONValue] = [
            "tool": .string("tramontane \(Converter.toolVersion)"),
            "command": .array(options.command.map { .string($0) }),
            "created": .string(ISO8601DateFormatter().string(from: Date())),
            "source": .string(checkpoint.path),
            "source_format": .string(checkpoint.format.rawValue),
            "source_layout": .string(model.sourceLayout),
        ]
        if let parent = checkpoint.tmt?.metadata["provenance"] { provenance["parent"] = parent }
        var m: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("general.type", .string("model")),
            ("general.name", .string(name)),
            ("general.quantization_version", .u32(2)),
            ("general.alignment", u32(GGUFWriter.alignment)),
            ("general.file_type", u32(fileType(entries))),
            ("general.source.format", .string(checkpoint.format.rawValue)),
            ("general.tramontane.provenance", .string(String(decoding: JSONWriter.bytes(.object(provenance)), as: UTF8.self))),
            ("llama.vocab_size", u32(c.vocabSize)),
            ("llama.context_length", u32(context)),
            ("llama.embedding_length", u32(c.dim)),
            ("llama.block_count", u32(c.nLayers)),
            ("llama.feed_forward_length", u32(c.hiddenDim)),
            ("llama.attention.head_count", u32(c.nHeads)),
            ("llama.attention.head_count_kv", u32(c.nKVHeads)),
            ("llama.rope.freq_base", .f32(Float(c.ropeTheta))),
            ("llama.attention.layer_norm_rms_epsilon", .f32(Float(c.normEps))),
            ("llama.rope.dimension_count", u32(c.headDim)),
        ]
        if c.headDim * c.nHeads != c.dim {
            m.append(("llama.attention.key_length", u32(c.headDim)))
            m.append(("llama.attention.value_length", u32(c.headDim)))
        }
        if let w = c.slidingWindow { m.append(("llama.attention.sliding_window", u32(w))) }
        if let moe = c.moe {
            m.append(("llama.expert_count", u32(moe.numExperts)))
            m.append(("llama.expert_used_count", u32(moe.numExpertsPerToken)))
        }
        // A GGUF source's other descriptive keys (organization, license, size label …) travel on.
        if let object = sourceGGUF?.objectValue {
            let have = Set(m.map(\.key))
            for (k, v) in object.sorted(by: { $0.key < $1.key }) where k.hasPrefix("general.") && !have.contains(k) && !k.hasPrefix("general.tramontane") {
                if let value = try? GGUFTokenizerMetadata.value(v, type: nil, key: k, file: checkpoint.path) { m.append((k, value)) }
            }
        }
        m += try GGUFTokenizerMetadata.keys(checkpoint, config: c)
        return m
    }
}
