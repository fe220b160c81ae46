import ArgumentParser
import Foundation
import Pipeline
import TensorCore

struct LadderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ladder",
        abstract: "Quantize one source to a ladder of types, verify and validate each file, print the quality table and plot it (ladder.svg).",
        discussion: """
        Types: \(Recipe.presetNames.joined(separator: ", ")) (default: all), each also as TYPE+imatrix (calibrated \
        with --imatrix, by default computed on the second half of the tokens, the rungs then measured on the first). \
        A source with block-quantized weights (a GGUF such as SmolLM2's Q4_1) is first converted to an f32 base in DIR; \
        each rung is quantized from the base and validated against it.
        """)

    @Argument(help: "A checkpoint file or folder (anything `inspect` reads).", completion: .file())
    var source: String

    @Option(help: "Comma-separated types, e.g. q8_0,q6_k,q4_k_m,q4_0+imatrix (default: every preset).")
    var types: String?

    @Option(help: "auto (computed on the calibration half of the tokens) or an importance-matrix file from `tramontane imatrix`. Without a +imatrix type, every type is calibrated.")
    var imatrix: String?

    @Option(name: .customLong("out"), help: "The folder for the base, the quantized files and ladder.svg.", completion: .directory)
    var directory: String = "ladder"

    @Option(name: .customLong("compare-llamacpp"), help: "A folder holding llama.cpp's llama-quantize and llama-perplexity: its points for the same types go beside ours in the plot (needs a GGUF source).",
            completion: .directory)
    var llamaCpp: String?

    @Option(name: .customLong("speed-tokens"), help: "Tokens generated (greedy) to time decoding; 0 skips it.")
    var speedTokens: Int = 32

    @Option(help: "The plot's title.")
    var title: String?

    @Option(help: ActivationPrecision.help)
    var activations: ActivationPrecision = .q8

    @OptionGroup var overwrite: OverwriteOptions
    @OptionGroup var eval: EvaluationTokens
    @OptionGroup var provenance: ProvenanceOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    func validate() throws {
        if let types { _ = try Self.rungs(types) }
        guard speedTokens >= 0 else { throw ValidationError("--speed-tokens must be 0 or more") }
    }

    static func rungs(_ text: String) throws -> [Ladder.Rung] {
        do { return try Ladder.Rung.list(text) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let (tokens, tokenSource) = try eval.load(tokenizerOf: source)
        var options = Ladder.Options(evaluation: .init(tokens: tokens, source: tokenSource, ctx: eval.ctx, chunks: eval.chunks), directory: directory)
        if let types { options.rungs = try Self.rungs(types) }
        options.imatrix = imatrix.map { $0 == "auto" ? .auto : .file($0) }
        options.replacing = overwrite.force
        options.threads = threads.threads
        options.speedTokens = speedTokens
        options.quantizedActivations = activations == .q8
        options.command = CommandLine.arguments
        options.hashSources = provenance.hashSources
        options.hashCache = provenance.hashCache
        options.llamaCpp = llamaCpp
        options.title = title
        if eval.tokens == nil { options.evaluationText = try eval.text.map { try TextFile.read($0) } ?? TokenizerLoader.defaultEvaluationText }
        let report = try Ladder.run(source, options: options, observer: StepLines(out: out))
        if out.json { return try out.printJSON(report) }
        print(Self.table(report))
        print("plot: \(report.plot)")
    }

    /// The quality table in Markdown (it pastes into a README as it is).
    static func table(_ r: Ladder.Report) -> String {
        var lines = [
            "| type | file MiB | bits/weight | mean RMSE | PPL | mean KLD | p99 KLD | top-1 | quantize s | prompt tok/s | tok/s |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in r.rows {
            lines.append(String(format: "| %@ | %.1f | %.3f | %@ | %.3f | %.4f | %.3f | %.2f%% | %.1f | %.0f | %@ |",
                                row.type, Double(row.fileBytes) / 1_048_576, row.bitsPerWeight, row.meanRMSE.map { String(format: "%.3e", $0) } ?? "-",
                                row.ppl, row.meanKLD, row.p99KLD, 100 * row.top1Agreement, row.quantizeSeconds, row.promptTokensPerSecond,
                                row.tokensPerSecond.map { String(format: "%.0f", $0) } ?? "-"))
        }
        lines.append(String(format: "\nPPL of the base: %.3f; %d tokens scored (%@, chunks of %d, second half of each)", r.pplBase, r.tokensScored, r.evaluation, r.ctx))
        if let llama = r.llamaCpp, !llama.isEmpty {
            lines.append("\n| llama.cpp type | file MiB | bits/weight | mean KLD |\n|---|---|---|---|")
            for row in llama {
                lines.append(String(format: "| %@ (%@) | %.1f | %.3f | %.4f |", row.type, row.llamaType, Double(row.fileBytes) / 1_048_576, row.bitsPerWeight, row.meanKLD))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One line on stderr per finished step; the step under way draws a bar on a terminal.
    final class StepLines: LadderObserver {
        let out: OutputOptions
        init(out: OutputOptions) { self.out = out }
        var enabled: Bool { !out.quiet && (!out.json || TerminalProgress.stderrIsTerminal) }

        func step(_ index: Int, of total: Int, _ message: String) {
            guard enabled else { return }
            FileHandle.standardError.write(Data("ladder [\(index)/\(total)] \(message)\n".utf8))
        }

        func progress(_ title: String) -> ProgressReporter {
            TerminalProgress(title: title, enabled: enabled, closingLine: false)
        }
    }
}
