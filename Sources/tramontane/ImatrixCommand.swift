import ArgumentParser
import Checkpoints
import Foundation
import Pipeline
import TensorCore

struct Imatrix: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record, per linear layer, the mean squared activation of each input column over calibration text (for quantize --imatrix).")

    @Argument(help: "The (unquantized) model to calibrate with.")
    var model: String

    @Option(name: .shortAndLong, help: "The importance matrix to write (safetensors; see formats/imatrix.md).")
    var output: String

    @OptionGroup var overwrite: OverwriteOptions

    @OptionGroup var calibration: EvaluationTokens

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    func run() throws {
        let checkpoint = try Checkpoint.open(model)
        // Checked before the calibration runs, not after.
        let target = try OutputTarget(output, inputs: checkpoint.inputs + [calibration.text, calibration.tokens].compactMap { $0 },
                                      replacing: overwrite.force)
        let loaded = try LoadedModel(checkpoint, settings: .init(threads: threads.threads))
        let m = loaded.transformer
        let (ids, source) = try calibration.load(tokenizer: loaded.tokenizer)
        var matrix = try ImportanceMatrix.collect(model: m, tokens: ids, ctx: calibration.ctx, chunks: calibration.chunks, bos: m.config.bosTokenID,
                                                  progress: out.progress("imatrix"))
        matrix.metadata["model"] = model
        matrix.metadata["calibration"] = source
        try matrix.write(to: target)
        if out.json { return try out.printJSON(["output": output, "tensors": String(matrix.columns.count), "tokens": matrix.metadata["tokens"] ?? ""]) }
        print("\(output): \(matrix.columns.count) weights, \(matrix.metadata["tokens"] ?? "?") tokens of \(source)")
    }
}
