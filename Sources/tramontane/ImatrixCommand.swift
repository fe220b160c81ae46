import ArgumentParser
import Foundation
import Pipeline

struct Imatrix: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record, per linear layer, the mean squared activation of each input column over calibration text (for quantize --imatrix).")

    @Argument(help: "The (unquantized) model to calibrate with.")
    var model: String

    @Option(name: .shortAndLong, help: "The importance matrix to write (safetensors; see formats/imatrix.md).")
    var output: String

    @Option(help: "Calibration text (default: the text shipped with the tool).")
    var text: String?

    @Option(help: "Calibration token ids instead of text.")
    var tokens: String?

    @Option(help: "Tokens per chunk.")
    var ctx: Int = 512

    @Option(help: "Number of chunks (default: all the text fills).")
    var chunks: Int?

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    func validate() throws {
        if text != nil && tokens != nil { throw ValidationError("give --text or --tokens, not both") }
        guard ctx >= 8 else { throw ValidationError("--ctx must be at least 8") }
    }

    func run() throws {
        let m = try Validator.load(model, threads: threads.threads)
        let ids: [Int]
        var source = "default evaluation text"
        if let tokens {
            ids = try Validator.readTokenFile(tokens)
            source = tokens
        } else {
            let tokenizer = try TokenizerLoader.load(path: model)
            ids = tokenizer.encode(try text.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? TokenizerLoader.defaultEvaluationText)
            if let text { source = text }
        }
        var matrix = try ImportanceMatrix.collect(model: m, tokens: ids, ctx: ctx, chunks: chunks, bos: m.config.bosTokenID,
                                                  progress: TerminalProgress(title: "imatrix", quiet: out.json))
        matrix.metadata["model"] = model
        matrix.metadata["calibration"] = source
        try matrix.write(to: output)
        if out.json { return try out.printJSON(["output": output, "tensors": String(matrix.columns.count), "tokens": matrix.metadata["tokens"] ?? ""]) }
        print("\(output): \(matrix.columns.count) weights, \(matrix.metadata["tokens"] ?? "?") tokens of \(source)")
    }
}
