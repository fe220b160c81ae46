import Checkpoints
import Foundation
import Inference
import ModelFile
import TensorCore

/// `tramontane ladder`: one source quantized to a ladder of types, each file verified,
/// validated against the unquantized model and timed, the results as a table and a plot
/// (`LadderPlot`). What `scripts/demo.sh` did as a shell loop, with the source opened and
/// hashed once and the base model loaded once for every rung.
package enum Ladder {
    /// One rung: a preset, calibrated with the importance matrix (`q4_0+imatrix`) or not.
    package struct Rung: Sendable, Equatable, CustomStringConvertible {
        package var preset: String
        package var calibrated: Bool

        package init(preset: String, calibrated: Bool = false) {
            self.preset = preset
            self.calibrated = calibrated
        }

        /// `PRESET` or `PRESET+imatrix`, the preset one of `Recipe.presetNames`.
        package init(parsing text: String) throws {
            let s = text.trimmingCharacters(in: .whitespaces).lowercased()
            let calibrated = s.hasSuffix("+imatrix")
            let preset = calibrated ? String(s.dropLast("+imatrix".count)) : s
            guard Recipe.presetNames.contains(preset) else { throw PipelineError.unknownRung(text) }
            self.init(preset: preset, calibrated: calibrated)
        }

        /// A comma-separated list of rungs.
        package static func list(_ text: String) throws -> [Rung] {
            let rungs = try text.split(separator: ",").map { try Rung(parsing: String($0)) }
            guard !rungs.isEmpty else { throw PipelineError.unknownRung(text) }
            for (i, r) in rungs.enumerated() where rungs[..<i].contains(r) { throw PipelineError.duplicateRung(r.description) }
            return rungs
        }

        /// Every preset the quantizer knows, uncalibrated: the default ladder.
        package static var all: [Rung] { Recipe.presetNames.map { Rung(preset: $0) } }

        package var description: String { calibrated ? "\(preset)+imatrix" : preset }
        /// The file a rung is written to, in the ladder's folder.
        package var fileName: String { "\(description).tmt" }
    }

    package enum ImatrixSource: Sendable, Equatable {
        /// Computed by the ladder on the calibration half of the tokens (`ImportanceMatrix.collect`).
        case auto
        case file(String)
    }

    /// The text the rungs are measured on (and, with `--imatrix auto`, calibrated on).
    package struct Evaluation: Sendable {
        package var tokens: [Int]
        /// Where the tokens came from (a file name, or "default evaluation text").
        package var source: String
        package var ctx: Int
        package var chunks: Int?
        package init(tokens: [Int], source: String, ctx: Int = 512, chunks: Int? = nil) {
            self.tokens = tokens
            self.source = source
            self.ctx = ctx
            self.chunks = chunks
        }
    }

    package struct Options: Sendable {
        package var rungs: [Rung] = Rung.all
        /// The importance matrix of the `+imatrix` rungs. Given with no `+imatrix` rung, every
        /// rung is calibrated with it.
        package var imatrix: ImatrixSource?
        package var evaluation: Evaluation
        /// The folder the base, the rungs, the importance matrix and the plot are written to.
        package var directory: String
        package var replacing = false
        package var threads = availableCores
        /// Tokens generated (greedy) to time decoding; 0 skips it.
        package var speedTokens = 32
        /// Q8 activations for the integer kernels, as `validate` and `generate` run by default.
        package var quantizedActivations = true
        package var command: [String] = []
        package var hashSources = true
        package var hashCache: HashCache?
        /// A folder with llama.cpp's `llama-quantize` and `llama-perplexity`: its points for the
        /// same presets go beside ours (`LlamaCppLadder`).
        package var llamaCpp: String?
        /// The evaluation text itself, for llama-perplexity (nil when the tokens came as ids).
        package var evaluationText: String?
        /// The plot's title (default: the source's file name).
        package var title: String?
        package init(evaluation: Evaluation, directory: String) {
            self.evaluation = evaluation
            self.directory = directory
        }
    }

    /// One measured rung (one row of the table, one point of the plot).
    package struct Row: Codable, Sendable {
        package var type: String
        package var preset: String
        package var imatrix: Bool
        package var file: String
        package var fileBytes: Int
        package var bitsPerWeight: Double
        package var meanRMSE: Double?
        package var ppl: Double
        package var pplBase: Double
        package var meanKLD: Double
        package var p99KLD: Double
        package var top1Agreement: Double
        package var quantizeSeconds: Double
        /// The model's own forward passes over the evaluated chunks (the base's not counted).
        package var promptTokensPerSecond: Double
        /// Greedy decoding after a short prompt (nil when `speedTokens` is 0).
        package var tokensPerSecond: Double?
        enum CodingKeys: String, CodingKey {
            case type, preset, imatrix, file, ppl
            case fileBytes = "file_bytes", bitsPerWeight = "bits_per_weight", meanRMSE = "mean_rmse", pplBase = "ppl_base"
            case meanKLD = "mean_kld", p99KLD = "p99_kld", top1Agreement = "top1_agreement", quantizeSeconds = "quantize_seconds"
            case promptTokensPerSecond = "prompt_tokens_per_second", tokensPerSecond = "tokens_per_second"
        }
    }

    package struct Report: Codable, Sendable {
        package var source: String
        /// The unquantized model every rung is validated against (the source itself when it
        /// holds no block-quantized tensor, else an f32 `.tmt` converted from it).
        package var base: String
        package var baseConverted: Bool
        package var imatrix: String?
        package var evaluation: String
        package var ctx: Int
        package var tokensScored: Int
        package var pplBase: Double
        package var rows: [Row]
        package var llamaCpp: [LlamaCppLadder.Row]?
        package var plot: String
        package var seconds: Double
        enum CodingKeys: String, CodingKey {
            case source, base, imatrix, evaluation, ctx, rows, plot, seconds
            case baseConverted = "base_converted", tokensScored = "tokens_scored", pplBase = "ppl_base", llamaCpp = "llama_cpp"
        }
    }

    /// Runs the whole ladder. `observer` hears of each step when it is done and gives the
    /// progress reporter of the step under way.
    package static func run(_ source: String, options: Options, observer: LadderObserver = SilentLadderObserver()) throws -> Report {
        let start = Date()
        let dir = options.directory
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

        let imatrixSource = options.imatrix ?? (options.rungs.contains { $0.calibrated } ? .auto : nil)
        var rungs = options.rungs
        if imatrixSource != nil, !rungs.contains(where: { $0.calibrated }) { rungs = rungs.map { Rung(preset: $0.preset, calibrated: true) } }
        let calibrate = imatrixSource == .auto && rungs.contains { $0.calibrated }

        // Held out: with a computed importance matrix the rungs are measured on chunks of the
        // first half of the tokens and it is calibrated on the chunks after the first chunk
        // boundary past the middle (as scripts/demo.sh split them before the ladder existed).
        let all = options.evaluation.tokens
        let ctx = options.evaluation.ctx
        let evalTokens = calibrate ? Array(all[..<(all.count / 2)]) : all
        let calibrationStart = min(all.count, (all.count / 2 + ctx - 1) / ctx * ctx)
        let chunks = min(options.evaluation.chunks ?? Int.max, evalTokens.count / ctx)
        guard chunks > 0 else { throw PipelineError.tooFewTokens(tokens: evalTokens.count, ctx: ctx, heldOut: calibrate) }

        var steps = Steps(total: rungs.count * 3 + (calibrate ? 1 : 0), observer: observer)
        let llamaPresets = rungs.filter { !$0.calibrated }.map(\.preset)
        if let tools = options.llamaCpp {
            _ = try LlamaCppLadder.check(tools: tools, source: source)
            guard options.evaluationText != nil else { throw PipelineError.llamaCppNeedsText }
            steps.total += 1 + llamaPresets.count
        }

        // The base: the source itself if its weights are floats, else an f32 copy of it.
        let opened = try Checkpoint.open(source)
        let needsBase = try opened.native().tensors.contains { $0.dtype.isBlockQuantized }
        // Every output checked before any work (an existing file without --force, an input).
        let imatrixFile: String? = options.imatrix.flatMap { if case .file(let p) = $0 { return p } else { return nil } }
        let outputs = (needsBase ? ["base-f32.tmt"] : []) + (calibrate ? ["imatrix.safetensors"] : []) + rungs.map(\.fileName) + ["ladder.svg"]
        for o in outputs { _ = try OutputTarget(path(o), inputs: opened.inputs + [imatrixFile].compactMap { $0 }, replacing: options.replacing) }
        var base = source
        if needsBase {
            steps.total += 2
            base = path("base-f32.tmt")
            var convert = Converter.Options()
            convert.dtype = .f32
            convert.writer = TMTWriterOptions(codec: .raw, threads: options.threads)
            convert.command = options.command
            convert.hashSources = options.hashSources
            convert.hashCache = options.hashCache
            convert.replacing = options.replacing
            let r = try Converter.convert(source, to: base, options: convert, progress: observer.progress("convert"))
            steps.done("convert \(source) → \(base) (f32, \(mib(r.outputBytes)) MiB, \(seconds(r.seconds)))")
            try verify(base, threads: options.threads, progress: observer.progress("verify"))
            steps.done("verify \(base): every checksum matches")
        }
        let checkpoint = needsBase ? try Checkpoint.open(base) : opened
        let model = try checkpoint.native()
        let running = LoadedModel.Settings(threads: options.threads, quantizedActivations: options.quantizedActivations)
        let reference = try LoadedModel(checkpoint, settings: running).transformer

        var known = KnownDigests()
        if options.hashSources { for f in checkpoint.files { try known.add(file: f, cache: options.hashCache) } }

        var imatrix: ImportanceMatrix?
        var imatrixPath: String?
        switch imatrixSource {
        case .file(let p)?:
            imatrix = try ImportanceMatrix.read(p)
            imatrixPath = p
        case .auto? where calibrate:
            let p = path("imatrix.safetensors")
            let target = try OutputTarget(p, inputs: checkpoint.inputs, replacing: options.replacing)
            let calibration = Array(all[calibrationStart...])
            var m = try ImportanceMatrix.collect(model: reference, tokens: calibration, ctx: ctx, chunks: nil, bos: reference.config.bosTokenID,
                                                 progress: observer.progress("imatrix"))
            m.metadata["model"] = base
            m.metadata["calibration"] = "second half of \(options.evaluation.source)"
            try m.write(to: target)
            imatrix = m
            imatrixPath = p
            steps.done("imatrix on \(m.metadata["tokens"] ?? "?") tokens (second half of \(options.evaluation.source)) → \(p)")
        default:
            break
        }

        var rows: [Row] = []
        var scored = 0
        let baseLogits = Validator.BaseLogits(tokens: evalTokens, ctx: ctx)
        for rung in rungs {
            let out = path(rung.fileName)
            var q = Quantizer.Options(recipe: try Recipe.preset(rung.preset, for: model.config, imatrix: rung.calibrated))
            q.command = options.command
            q.hashSources = options.hashSources
            q.hashCache = options.hashCache
            q.knownDigests = known
            q.replacing = options.replacing
            q.threads = options.threads
            q.report = true
            if rung.calibrated {
                q.imatrix = imatrix
                q.imatrixPath = imatrixPath
            }
            let plan = try Quantizer.quantize(checkpoint, model, source: base, to: out, options: q, progress: observer.progress("quantize \(rung)"))
            let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? plan.bytes
            steps.done("quantize \(rung) → \(out) (\(mib(bytes)) MiB, \(String(format: "%.3f", plan.bitsPerWeight)) bits/weight, \(seconds(plan.seconds ?? 0)))")

            try verify(out, threads: options.threads, progress: observer.progress("verify \(rung)"))
            steps.done("verify \(out): every checksum matches")

            let m = try LoadedModel(out, settings: running).transformer
            let v = try Validator.measure(model: m, base: reference, tokens: evalTokens, ctx: ctx, chunks: chunks, bos: m.config.bosTokenID,
                                          baseLogits: baseLogits, progress: observer.progress("validate \(rung)"))
            let speed = try decodeSpeed(m, prompt: evalTokens, tokens: options.speedTokens)
            let s = v.summary
            scored = s.tokensScored
            rows.append(Row(type: rung.description, preset: rung.preset, imatrix: rung.calibrated, file: out, fileBytes: bytes,
                            bitsPerWeight: plan.bitsPerWeight, meanRMSE: plan.meanRMSE, ppl: s.ppl, pplBase: s.pplBase,
                            meanKLD: s.meanKLD, p99KLD: s.p99KLD, top1Agreement: s.top1Agreement,
                            quantizeSeconds: plan.seconds ?? 0, promptTokensPerSecond: v.promptTokensPerSecond, tokensPerSecond: speed))
            steps.done(String(format: "validate %@ against the base: PPL %.3f (base %.3f), mean KLD %.4f, top-1 %.2f%%; %.0f prompt tokens/s",
                              rung.description, s.ppl, s.pplBase, s.meanKLD, 100 * s.top1Agreement, v.promptTokensPerSecond)
                       + (speed.map { String(format: ", decoding %.0f tokens/s", $0) } ?? ""))
        }

        var llama: [LlamaCppLadder.Row]?
        if let tools = options.llamaCpp, let text = options.evaluationText {
            llama = try LlamaCppLadder.run(tools: tools, source: source, presets: llamaPresets,
                                           evaluationText: text, ctx: ctx, chunks: chunks, directory: dir, threads: options.threads,
                                           steps: &steps)
        }

        let plotPath = path("ladder.svg")
        let title = options.title ?? "Quality ladder: \((source as NSString).lastPathComponent)"
        var series = [LadderPlot.Series(name: "Tramontane", points: rows.map { .init(label: $0.type, bitsPerWeight: $0.bitsPerWeight, meanKLD: $0.meanKLD) })]
        if let llama, !llama.isEmpty {
            series.append(LadderPlot.Series(name: "llama.cpp", points: llama.map { .init(label: $0.type, bitsPerWeight: $0.bitsPerWeight, meanKLD: $0.meanKLD) }))
        }
        let plot = LadderPlot(title: title, subtitle: "KL divergence from the unquantized model, mean over \(scored) tokens of \(options.evaluation.source)",
                              series: series)
        try plot.write(to: OutputTarget(plotPath, inputs: [], replacing: options.replacing))

        return Report(source: source, base: base, baseConverted: needsBase, imatrix: imatrixPath, evaluation: options.evaluation.source,
                      ctx: ctx, tokensScored: scored, pplBase: rows.first?.pplBase ?? 0, rows: rows,
                      llamaCpp: llama, plot: plotPath, seconds: Date().timeIntervalSince(start))
    }

    /// Every checksum of a `.tmt` the ladder wrote.
    static func verify(_ file: String, threads: Int, progress: ProgressReporter) throws {
        let tmt = try TMTFile(path: file)
        try tmt.verify(threads: threads) { done, total, name in progress.update(done: done, total: total, label: name) }
        progress.finish(label: "")
    }

    /// Greedy decoding speed after the first few evaluation tokens, as `generate` runs.
    static func decodeSpeed(_ model: Transformer, prompt: [Int], tokens: Int) throws -> Double? {
        guard tokens > 0, !prompt.isEmpty else { return nil }
        var ids = Array(prompt.prefix(32))
        if let bos = model.config.bosTokenID { ids[0] = bos }
        let generator = Generator(model: model, cache: model.makeCache(capacity: ids.count + tokens + 1, precision: .f16))
        let r = try generator.generate(ids, maxTokens: tokens)
        return r.tokensPerSecond
    }

    static func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }
    static func seconds(_ s: Double) -> String { String(format: "%.1f s", s) }

    /// Numbers the steps as they finish.
    struct Steps {
        var total: Int
        var finished = 0
        let observer: LadderObserver
        init(total: Int, observer: LadderObserver) {
            self.total = total
            self.observer = observer
        }
        mutating func done(_ message: String) {
            finished += 1
            observer.step(finished, of: max(total, finished), message)
        }
    }
}

/// Hears of the ladder's steps. The CLI prints a line per finished step and draws a bar for
/// the step under way on a terminal.
package protocol LadderObserver: AnyObject {
    /// Step `index` of `total` is done; `message` says what it did.
    func step(_ index: Int, of total: Int, _ message: String)
    /// The progress reporter for the step now starting (`title`: "quantize q4_0", …).
    func progress(_ title: String) -> ProgressReporter
}

package final class SilentLadderObserver: LadderObserver {
    package init() {}
    package func step(_ index: Int, of total: Int, _ message: String) {}
    package func progress(_ title: String) -> ProgressReporter { SilentProgress() }
}
