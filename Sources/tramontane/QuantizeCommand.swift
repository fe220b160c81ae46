import ArgumentParser
import Foundation
import ModelFile
import Pipeline
import Quantization

struct QuantizeTensors: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a checkpoint to 8- to 2-bit block formats in one .tmt file.",
        discussion: """
        Presets: \(Recipe.presetNames.joined(separator: ", ")). q4_k_m gives the output matrix and the wv/w2 of \
        some layers Q6_K, as llama.cpp's Q4_K_M does; q5_k_*, q3_k_*, q2_k, iq4_nl and iq4_xs are llama.cpp's mixes too (formats/presets.md). Rules (--rule 'REGEX=TYPE', searched in native tensor names, \
        first match wins) go before the preset's. One-dimensional tensors (norms) stay f32.
        """)

    @Argument(help: "A checkpoint file or folder (anything `inspect` reads).")
    var source: String

    @Option(name: .shortAndLong, help: "The .tmt file to write.")
    var output: String?

    @OptionGroup var overwrite: OverwriteOptions

    @Option(name: .long, help: "A preset (q8_0, q6_k, q5_1, q5_0, q4_k, q4_1, q4_0, q4_k_m, q4_k_s, q5_k_m, q5_k_s, q3_k_l, q3_k_m, q3_k_s, q2_k, iq4_nl, iq4_xs).")
    var type: String

    @Option(name: .customLong("rule"), help: "REGEX=TYPE, applied before the preset's rules; repeatable.")
    var rules: [String] = []

    @Flag(name: .customLong("reference-quantizer"), help: "Use ggml's reference quantizers instead of the least-squares search (bit-exact with llama.cpp's for q8_0, q5_k, q5_0, q5_1, q4_0, q4_1, q3_k, q2_k, iq4_nl and iq4_xs; q4_k and q6_k keep ggml's structure but not its bytes).")
    var reference = false

    @Option(help: "An importance matrix from `tramontane imatrix`: each weight's squared error is weighted by its input column's mean squared activation.")
    var imatrix: String?

    @Flag(name: .customLong("dry-run"), help: "Print the plan (each tensor's type and size, total bits per weight) and write nothing.")
    var dryRun = false

    @Flag(help: "Report per-tensor RMSE, relative error and cosine similarity against the source.")
    var report = false

    @Option(help: "Codec for the output (raw keeps tensors mappable in place).")
    var codec: TMTCodec = .raw

    @OptionGroup var provenance: ProvenanceOptions

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    func validate() throws {
        if !dryRun && output == nil { throw ValidationError("give -o OUT.tmt (or --dry-run)") }
    }

    func run() throws {
        var options = Quantizer.Options(preset: type.lowercased(), rules: rules)
        options.command = CommandLine.arguments
        options.hashSources = provenance.hashSources
        options.hashCache = provenance.hashCache
        options.replacing = overwrite.force
        options.mode = reference ? .reference : .search
        options.threads = threads.threads
        options.report = report
        options.codec = codec
        options.imatrixPath = imatrix
        let plan = dryRun ? try Quantizer.plan(source, options: options)
            : try Quantizer.quantize(source, to: output ?? "", options: options, progress: out.progress("quantize"))
        if out.json { return try out.printJSON(plan) }
        let width = min(44, plan.tensors.map(\.name.count).max() ?? 4)
        for e in plan.tensors {
            var line = e.name.padding(toLength: max(width, e.name.count), withPad: " ", startingAt: 0)
            line += "  \(e.source.padding(toLength: 5, withPad: " ", startingAt: 0)) → \(e.type.padding(toLength: 5, withPad: " ", startingAt: 0))"
            line += "  " + formatBytes(e.bytes).padding(toLength: 11, withPad: " ", startingAt: 0)
            if let r = e.rmse, let rel = e.relativeError, let c = e.cosine {
                line += String(format: "  rmse %.3e  rel %.4f  cos %.6f", r, rel, c)
            } else if dryRun {
                line += "  (\(e.reason))"
            }
            print(line)
        }
        var summary = "\(plan.tensors.count) tensors, \(plan.parameters) parameters → \(formatBytes(plan.bytes)), \(String(format: "%.3f", plan.bitsPerWeight)) bits per weight"
        if let s = plan.seconds, let mbs = plan.mbPerSecond { summary += String(format: " in %.1f s (%.0f MB/s of input)", s, mbs) }
        if let m = plan.meanRMSE { summary += String(format: ", mean RMSE %.4e", m) }
        print(summary)
    }
}
