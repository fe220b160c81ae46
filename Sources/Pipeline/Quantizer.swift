import Checkpoints
import Foundation
import ModelFile
import Quantization
import TensorCore

/// `tramontane quantize`: any readable checkpoint → a `.tmt` whose weights are block formats,
/// one tensor at a time (peak memory ≈ the largest tensor as f32 plus its quantized copy).
public struct Quantizer {
    public struct Options: Sendable {
        public var recipe: Recipe
        public var mode: Quantize.Mode = .search
        public var threads: Int = availableCores
        public var report = false
        public var codec: TMTCodec = .raw
        /// Per-column importance of each weight's error (from `tramontane imatrix`), and its file.
        public var imatrix: ImportanceMatrix?
        public var imatrixPath: String?
        public var command: [String] = CommandLine.arguments
        /// Record each source file's SHA-256 in the provenance (off: `"sha256": null`).
        public var hashSources = true
        /// Where source digests are remembered between runs (nil: hash every time).
        public var hashCache: HashCache?
        public init(recipe: Recipe) { self.recipe = recipe }
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

    /// Which type each tensor gets and what the file will weigh, without quantizing.
    public static func plan(_ model: NativeModel, source: String, options: Options) throws -> Plan {
        var entries: [Entry] = []
        var params = 0, bytes = 0
        for t in model.tensors where model.aliases[t.name] == nil {
            var (type, reason) = options.recipe.type(for: t.name, shape: t.shape)
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
        return Plan(source: source, recipe: options.recipe.name, rules: options.recipe.rules.map(\.description),
                    mode: options.mode.rawValue, tensors: entries, parameters: params, bytes: bytes,
                    bitsPerWeight: Double(bytes * 8) / Double(max(1, params)))
    }

    public static func quantize(_ source: String, to output: String, options: Options, progress: ProgressReporter = SilentProgress()) throws -> Plan {
        let start = Date()
        let checkpoint = try Checkpoint.open(source)
        let model = try checkpoint.native()
        var plan = try plan(model, source: source, options: options)
        let byName = Dictionary(uniqueKeysWithValues: model.tensors.map { ($0.name, $0) })
        let writer = try TMTWriter(path: output, options: TMTWriterOptions(codec: options.codec, threads: options.threads))
        let inputBytes = plan.tensors.reduce(0) { $0 + (byName[$1.name]?.byteCount ?? 0) }
        let metadata = OutputMetadata(checkpoint: checkpoint, model: model, command: options.command, hashSources: options.hashSources,
                                      hashCache: options.hashCache)
        var done = 0
        let writes = WriteBehind()
        do {
            for i in plan.tensors.indices {
                let e = plan.tensors[i]
                guard let t = byName[e.name], let type = DType(rawValue: e.type) else { continue }
                progress.update(done: done, total: inputBytes, label: "\(e.name) → \(e.type)")
                let src = try t.load()
                let columns = t.shape.last ?? 1
                try withValues(t, src, columns: columns, threads: options.threads) { values in
                    let encoded = try encode(values, name: t.name, shape: t.shape, columns: columns, type: type, options: options)
                    let (name, shape) = (t.name, t.shape)
                    try writes.submit { try encoded.withBytes { try writer.addTensor(name: name, dtype: type, shape: shape, bytes: $0) } }
                    if options.report {
                        let stats = try compare(values, encoded, type: type, columns: columns)
                        plan.tensors[i].rmse = stats.rmse
                        plan.tensors[i].relativeError = stats.relative
                        plan.tensors[i].cosine = stats.cosine
                    }
                }
                src.dropPages()
                done += t.byteCount
            }
            try writes.drain()
            try metadata.finish(writer, extra: ["quantization": .object([
                "recipe": .string(options.recipe.name),
                "rules": .array(options.recipe.rules.map { .string($0.description) }),
                "default": .string(options.recipe.defaultType.rawValue),
                "mode": .string(options.mode.rawValue),
                "imatrix": try options.imatrixPath.map { p in
                    .object(["path": .string(p), "sha256": .string(try TensorValues.sha256(file: p)),
                             "metadata": .object((options.imatrix?.metadata ?? [:]).mapValues { .string($0) })])
                } ?? .null,
            ])])
        } catch {
            try? writes.drain()
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

    /// Calls `body` with the tensor's values as f32: the mapped bytes themselves for an aligned
    /// f32 tensor (no copy, no fresh pages to zero), else decoded by `floats`.
    static func withValues(_ t: SourceTensor, _ src: ByteRegion, columns: Int, threads: Int,
                           _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        if t.dtype == .f32 {
            let done: Bool = try src.withBytes { b in
                guard let p = b.baseAddress, Int(bitPattern: p) % 4 == 0, b.count >= 4 * t.elementCount else { return false }
                try b.withMemoryRebound(to: Float.self) { try body(UnsafeBufferPointer(rebasing: $0[0..<t.elementCount])) }
                return true
            }
            if done { return }
        }
        let values = try floats(t, src, columns: columns, threads: threads)
        try values.withUnsafeBufferPointer { try body($0) }
    }

    /// The tensor's values as f32, decoded in parallel row slices.
    static func floats(_ t: SourceTensor, _ src: ByteRegion, columns: Int, threads: Int = availableCores) throws -> [Float] {
        var values = [Float](repeating: 0, count: t.elementCount)
        let rowBytes = try t.dtype.rowBytes(columns)
        let rows = t.elementCount / max(columns, 1)
        let perTask = max(1, (1 << 18) / max(columns, 1))
        try values.withUnsafeMutableBufferPointer { out in
            try src.withBytes { b in
                try parallelFor((rows + perTask - 1) / perTask, threads: threads) { k, _ in
                    let r0 = k * perTask, r1 = min(rows, r0 + perTask)
                    try Dequantize.toFloat(UnsafeRawBufferPointer(rebasing: b[(r0 * rowBytes)..<(r1 * rowBytes)]), dtype: t.dtype,
                                           into: UnsafeMutableBufferPointer(rebasing: out[(r0 * columns)..<(r1 * columns)]), columns: columns)
                }
            }
        }
        return values
    }

    static func encode(_ values: UnsafeBufferPointer<Float>, name: String, shape: [Int] = [], columns: Int, type: DType, options: Options) throws -> ByteRegion {
        let shapeBytes = try type.byteCount(shape: [values.count / max(columns, 1), columns])
        // Importance weights apply to the search quantizer; tensors without an entry get none.
        // A stacked expert tensor [experts, rows, columns] takes each expert's own entry.
        let importance: [[Float]]? = options.mode == .search ? options.imatrix.flatMap { m in
            if let w = m.weights(for: name), w.count == columns { return [w] }
            return shape.count == 3 ? stackedExpertImportance(m, name: name, experts: shape[0], columns: columns) : nil
        } : nil
        do {
            return try encodeValues(values, name: name, columns: columns, type: type, importance: importance, options: options, bytes: shapeBytes)
        } catch TensorError.nonFinite(_, let i, let v) {
            throw TensorError.nonFinite(tensor: name, index: i, value: v)
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

    static func encodeValues(_ v: UnsafeBufferPointer<Float>, name: String, columns: Int, type: DType, importance: [[Float]]?, options: Options,
                             bytes shapeBytes: Int) throws -> ByteRegion {
        try ByteRegion.allocate(count: shapeBytes) { dst in
            if type.isBlockQuantized {
                if let importance, !importance.isEmpty {
                    // One slice of rows per importance vector (one slice unless experts are stacked).
                    let rows = v.count / max(columns, 1), per = rows / importance.count
                    let sliceBytes = per * (try type.rowBytes(columns))
                    for (e, imp) in importance.enumerated() {
                        do {
                            try imp.withUnsafeBufferPointer { w in
                                try Quantize.matrix(UnsafeBufferPointer(rebasing: v[(e * per * columns)..<((e + 1) * per * columns)]), columns: columns,
                                                    dtype: type, mode: options.mode, weights: w, threads: options.threads,
                                                    into: UnsafeMutableRawBufferPointer(rebasing: dst[(e * sliceBytes)..<((e + 1) * sliceBytes)]))
                            }
                        } catch TensorError.nonFinite(let t, let i, let x) {
                            // The slice's position, made the tensor's.
                            throw TensorError.nonFinite(tensor: t, index: e * per * columns + i, value: x)
                        }
                    }
                } else {
                    try Quantize.matrix(v, columns: columns, dtype: type, mode: options.mode, weights: nil, threads: options.threads, into: dst)
                }
            } else {
                try FloatConversion.fromFloat(v, to: type, into: dst, tensor: name)
            }
        }
    }

    /// RMSE, relative error (RMSE / RMS of the source) and cosine similarity.
    static func compare(_ x: UnsafeBufferPointer<Float>, _ encoded: ByteRegion, type: DType, columns: Int) throws -> (rmse: Double, relative: Double, cosine: Double) {
        var y = [Float](repeating: 0, count: x.count)
        try encoded.withBytes { b in try y.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: type, into: $0, columns: columns) } }
        var se = 0.0, sx = 0.0, sy = 0.0, sxy = 0.0
        for i in 0..<x.count {
            let a = Double(x[i]), b = Double(y[i])
            se += (a - b) * (a - b); sx += a * a; sy += b * b; sxy += a * b
        }
        let n = Double(max(1, x.count))
        let rmse = (se / n).squareRoot()
        return (rmse, sx > 0 ? rmse / (sx / n).squareRoot() : 0, sx > 0 && sy > 0 ? sxy / (sx.squareRoot() * sy.squareRoot()) : 1)
    }
}

