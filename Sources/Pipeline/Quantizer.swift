import Checkpoints
import Foundation
import ModelFile
import Quantization
import TensorCore

/// `tramontane quantize`: any readable checkpoint → a `.tmt` whose weights are block formats,
/// one tensor at a time (peak memory ≈ the largest tensor as f32 plus its quantized copy).
public struct Quantizer {
    /// The recipe, or the preset to choose one from once the model's shape is known.
    public enum RecipeChoice: Sendable {
        case recipe(Recipe)
        /// `Recipe.preset(_:for:imatrix:)` for the model's shape, with `rules` (`REGEX=TYPE`, as
        /// `--rule` gives them) before the preset's.
        case preset(String, rules: [String])

        /// The recipe for a model of this configuration, `imatrix` telling whether an
        /// importance matrix is used (the IQ4 mixes depend on it).
        public func recipe(for config: ModelConfig, imatrix: Bool) throws -> Recipe {
            switch self {
            case .recipe(let r): return r
            case .preset(let name, let rules):
                var r = try Recipe.preset(name, for: config, imatrix: imatrix)
                r.rules = try rules.map(Recipe.Rule.init(parsing:)) + r.rules
                return r
            }
        }
    }

    public struct Options: Sendable {
        public var recipe: RecipeChoice
        public var mode: Quantize.Mode = .search
        public var threads: Int = availableCores
        public var report = false
        public var codec: TMTCodec = .raw
        /// Per-column importance of each weight's error (from `tramontane imatrix`), and its file
        /// (read from there when only the path is given).
        public var imatrix: ImportanceMatrix?
        public var imatrixPath: String?
        /// The command line recorded in the provenance.
        public var command: [String] = []
        /// Record each source file's SHA-256 in the provenance (off: `"sha256": null`).
        public var hashSources = true
        /// Where source digests are remembered between runs (nil: hash every time).
        package var hashCache: HashCache?
        /// Digests of source files the caller computed in this process (`KnownDigests`): the
        /// ladder hashes its source once for all its rungs.
        package var knownDigests = KnownDigests()
        /// Replace an existing output file (`--force`); an input, a FIFO or a device never is.
        public var replacing = false
        /// Weights per unit of work (`TensorBatch`): small tensors are batched up to it, larger
        /// ones cut into slices of it. The file does not depend on it.
        public var batchWeights = TensorBatch.limit
        public init(recipe: Recipe) { self.recipe = .recipe(recipe) }
        /// A preset chosen for the model's shape once the checkpoint is open, as `quantize --type`
        /// names it, with `rules` before its own.
        public init(preset: String, rules: [String] = []) { self.recipe = .preset(preset, rules: rules) }

        /// The recipe for `model`, and these options with it and with the importance matrix read
        /// from `imatrixPath` when only the path was given.
        func resolved(for model: NativeModel) throws -> (Recipe, Options) {
            let recipe = try self.recipe.recipe(for: model.config, imatrix: imatrix != nil || imatrixPath != nil)
            var o = self
            o.recipe = .recipe(recipe)
            if o.imatrix == nil, let p = imatrixPath { o.imatrix = try ImportanceMatrix.read(p) }
            return (recipe, o)
        }
    }

    public struct Entry: Codable, Sendable {
        public var name: String
        public var shape: [Int]
        public var source: String
        public var type: String
        public var reason: String
        public var bytes: Int
        public var bitsPerWeight: Double
        public var rmse: Double?
        public var relativeError: Double?
        public var cosine: Double?
        enum CodingKeys: String, CodingKey {
            case name, shape, source, type, reason, bytes, rmse, cosine
            case bitsPerWeight = "bits_per_weight", relativeError = "relative_error"
        }
    }

    public struct Plan: Codable, Sendable {
        public var source: String
        public var recipe: String
        public var rules: [String]
        public var mode: String
        public var tensors: [Entry]
        public var parameters: Int
        public var bytes: Int
        public var bitsPerWeight: Double
        public var output: String?
        public var seconds: Double?
        public var mbPerSecond: Double?
        public var meanRMSE: Double?
        enum CodingKeys: String, CodingKey {
            case source, recipe, rules, mode, tensors, parameters, bytes, output, seconds
            case bitsPerWeight = "bits_per_weight", mbPerSecond = "mb_per_second", meanRMSE = "mean_rmse"
        }
    }

    /// Which type each tensor of `source` gets and what the file will weigh, without quantizing
    /// (`quantize --dry-run`).
    public static func plan(_ source: String, options: Options) throws -> Plan {
        let model = try Checkpoint.open(source).native()
        return try plan(model, source: source, options: options.resolved(for: model).1)
    }

    /// The same for a checkpoint the caller has opened and remapped.
    public static func plan(_ model: NativeModel, source: String, options: Options) throws -> Plan {
        let recipe = try options.recipe.recipe(for: model.config, imatrix: options.imatrix != nil || options.imatrixPath != nil)
        try model.checkAgainstConfig()
        var entries: [Entry] = []
        var params = 0, bytes = 0
        for t in model.tensors where model.aliases[t.name] == nil {
            var (type, reason) = recipe.type(for: t.name, shape: t.shape)
            if type.isBlockQuantized, (try? type.rowBytes(t.shape.last ?? 0)) == nil {
                reason = "rows of \(t.shape.last ?? 0) do not fit \(type.rawValue) blocks: kept f16"
                type = .f16
            }
            let b = try type.byteCount(shape: t.shape)
            entries.append(Entry(name: t.name, shape: t.shape, source: t.dtype.rawValue, type: type.rawValue, reason: reason,
                                 bytes: b, bitsPerWeight: Double(b * 8) / Double(max(1, t.elementCount))))
            params += t.elementCount
            bytes += b
        }
        return Plan(source: source, recipe: recipe.name, rules: recipe.rules.map(\.description),
                    mode: options.mode.rawValue, tensors: entries, parameters: params, bytes: bytes,
                    bitsPerWeight: Double(bytes * 8) / Double(max(1, params)))
    }

    /// `tramontane quantize`: opens and remaps `source`, chooses the recipe for its shape and
    /// reads the importance matrix (`Options`), and writes `output`.
    public static func quantize(_ source: String, to output: String, options: Options, progress: ProgressReporter = SilentProgress()) throws -> Plan {
        let start = Date()
        let checkpoint = try Checkpoint.open(source)
        return try quantize(checkpoint, try checkpoint.native(), source: source, to: output, options: options, progress: progress, start: start)
    }

    /// The same for a checkpoint the caller has opened and remapped already (the ladder opens its
    /// base once for all its rungs).
    public static func quantize(_ checkpoint: Checkpoint, _ model: NativeModel, source: String, to output: String, options: Options,
                                progress: ProgressReporter = SilentProgress(), start: Date = Date()) throws -> Plan {
        let (recipe, options) = try options.resolved(for: model)
        var plan = try plan(model, source: source, options: options)
        let byName = Dictionary(uniqueKeysWithValues: model.tensors.map { ($0.name, $0) })
        let target = try OutputTarget(output, inputs: checkpoint.inputs + [options.imatrixPath].compactMap { $0 }, replacing: options.replacing)
        let writer = try TMTWriter(target: target, options: TMTWriterOptions(codec: options.codec, threads: options.threads))
        let inputBytes = plan.tensors.reduce(0) { $0 + (byName[$1.name]?.byteCount ?? 0) }
        let metadata = OutputMetadata(checkpoint: checkpoint, model: model, command: options.command, hashSources: options.hashSources,
                                      hashCache: options.hashCache, knownDigests: options.knownDigests,
                                      writer: writer.options)
        var engine = TensorEngine(threads: options.threads, mode: options.mode, imatrix: options.imatrix)
        engine.report = options.report
        engine.batchWeights = options.batchWeights
        do {
            let steps = try TensorEngine.steps(plan.tensors, byName: byName)
            for (k, s) in try engine.run(steps, writer: writer, metadata: metadata, progress: progress).enumerated() {
                guard let s else { continue }
                plan.tensors[k].rmse = s.rmse
                plan.tensors[k].relativeError = s.relative
                plan.tensors[k].cosine = s.cosine
            }
            try metadata.finish(writer, extra: ["quantization": .object([
                "recipe": .string(recipe.name),
                "rules": .array(recipe.rules.map { .string($0.description) }),
                "default": .string(recipe.defaultType.rawValue),
                "mode": .string(options.mode.rawValue),
                "imatrix": try options.imatrixPath.map { p in
                    .object(["path": .string(p), "sha256": .string(try TensorValues.sha256(file: p)),
                             "metadata": .object((options.imatrix?.metadata ?? [:]).mapValues { .string($0) })])
                } ?? .null,
            ])])
        } catch {
            writer.abandon()
            throw error
        }
        progress.finish(label: "wrote \(output)")
        plan.output = output
        plan.seconds = Date().timeIntervalSince(start)
        plan.mbPerSecond = Double(inputBytes) / 1e6 / max(plan.seconds ?? 1, 1e-9)
        if options.report {
            let r = plan.tensors.compactMap(\.rmse)
            plan.meanRMSE = r.isEmpty ? nil : r.reduce(0, +) / Double(r.count)
        }
        return plan
    }

    /// The tensor's values as f32 (what `quantize` reads, for tests).
    static func floats(_ t: SourceTensor, _ src: ByteRegion, columns: Int, threads: Int = availableCores) throws -> [Float] {
        let rows = t.elementCount / max(columns, 1)
        let batch = TensorBatch(pieces: [.init(entry: 0, tensor: t, type: .f32, rows: 0..<rows, offset: 0, bytes: 4 * t.elementCount)])
        let (values, decoded) = try batch.values(sources: [src], threads: threads, pool: BufferPool(keep: 0))
        return withExtendedLifetime((src, decoded)) { Array(values[0]) }
    }

    /// One tensor's values in `type`, as `quantize` encodes it (for tests).
    static func encode(_ values: UnsafeBufferPointer<Float>, name: String, shape: [Int] = [], columns: Int, type: DType, options: Options) throws -> ByteRegion {
        let bytes = try type.byteCount(shape: [values.count / max(columns, 1), columns])
        return try BufferPool(keep: 0).region(count: bytes) { dst in
            let jobs = EncodeJobs(options: options)
            try jobs.add(values, name: name, shape: shape, columns: columns, type: type, into: dst)
            try jobs.run()
        }
    }

    /// For `layers.N.feed_forward.experts.wK.weight` (GGUF's stacked experts), the importance
    /// of each expert's `layers.N.feed_forward.experts.E.wK.weight` (what the engine records),
    /// ones for an expert no calibration token reached; nil when no expert has an entry.
    static func stackedExpertImportance(_ m: ImportanceMatrix, name: String, experts: Int, columns: Int) -> [[Float]]? {
        let parts = name.split(separator: ".")
        guard experts > 0, parts.count == 6, parts[0] == "layers", parts[2] == "feed_forward", parts[3] == "experts", parts[5] == "weight" else { return nil }
        let prefix = parts[0...3].joined(separator: "."), w = parts[4]
        let found = (0..<experts).map { e in m.weights(for: "\(prefix).\(e).\(w).weight").flatMap { $0.count == columns ? $0 : nil } }
        guard found.contains(where: { $0 != nil }) else { return nil }
        return found.map { $0 ?? [Float](repeating: 1, count: columns) }
    }

}

/// Sums for --report over a tensor's pieces: RMSE, relative error (RMSE / RMS of the source)
/// and cosine similarity of the decoded values against the source.
struct ErrorSums {
    var se = 0.0, sx = 0.0, sy = 0.0, sxy = 0.0, n = 0

    /// Adds `x` against `encoded` (its encoding as `type`, rows of `columns`).
    mutating func add(_ x: UnsafeBufferPointer<Float>, _ encoded: UnsafeRawBufferPointer, type: DType, columns: Int) throws {
        var y = [Float](repeating: 0, count: x.count)
        try y.withUnsafeMutableBufferPointer { try Dequantize.toFloat(encoded, dtype: type, into: $0, columns: columns) }
        for i in 0..<x.count {
            let a = Double(x[i]), b = Double(y[i])
            se += (a - b) * (a - b); sx += a * a; sy += b * b; sxy += a * b
        }
        n += x.count
    }

    var rmse: Double { (se / Double(max(1, n))).squareRoot() }
    var relative: Double { sx > 0 ? rmse / (sx / Double(max(1, n))).squareRoot() : 0 }
    var cosine: Double { sx > 0 && sy > 0 ? sxy / (sx.squareRoot() * sy.squareRoot()) : 1 }
}
