import ArgumentParser
import Foundation
import Inference
import Pipeline

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure quantization error: perplexity, KL divergence and top-1 agreement against the unquantized model, or against logits from another program.")

    @Argument(help: "The model to measure (any file `inspect` reads).")
    var model: String

    @Option(help: "The unquantized base model to compare with.")
    var reference: String?

    @Option(name: .customLong("against-logits"), help: "A safetensors file of NAME.input_ids / NAME.logits pairs computed by another program.")
    var againstLogits: String?

    @Option(help: ActivationPrecision.help)
    var activations: ActivationPrecision = .q8

    @OptionGroup var eval: EvaluationTokens
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    func validate() throws {
        guard (reference == nil) != (againstLogits == nil) else { throw ValidationError("give exactly one of --reference BASE or --against-logits FILE") }
    }

    func run() throws {
        let settings = LoadedModel.Settings(threads: threads.threads, quantizedActivations: activations == .q8)
        let loaded = try LoadedModel(model, settings: settings)
        let m = loaded.transformer
        if let file = againstLogits {
            let results = try Validator.againstLogits(model: m, file: file)
            if out.json { return try out.printJSON(["sequences": results]) }
            print("sequence      tokens  max|Δlogit|     mean KLD   top-1")
            for r in results {
                print("\(r.name.padding(toLength: 12, withPad: " ", startingAt: 0))  \(String(format: "%6d  %11.3e  %11.3e  %6.2f%%", r.tokens, r.maxAbsLogitDiff, r.meanKLD, r.top1Agreement * 100))")
            }
            return
        }
        let base = try LoadedModel(reference ?? "", settings: settings).transformer
        let ids = try eval.load(tokenizer: loaded.tokenizer).ids
        let s = try Validator.compare(model: m, base: base, tokens: ids, ctx: eval.ctx, chunks: eval.chunks, bos: m.config.bosTokenID,
                                      progress: out.progress("validate"))
        if out.json { return try out.printJSON(s) }
        print(String(format: """
            tokens scored       %d
            PPL(model)          %.4f
            PPL(base)           %.4f
            mean ln(PPL ratio)  %.5f
            mean KLD            %.6f
            median KLD          %.6f
            p99 KLD             %.6f
            max KLD             %.6f
            same top token      %.2f%%
            RMS Δp              %.3f%%
            """, s.tokensScored, s.ppl, s.pplBase, s.meanLnPPLRatio, s.meanKLD, s.medianKLD, s.p99KLD, s.maxKLD, s.top1Agreement * 100, s.rmsDp * 100))
    }
}
