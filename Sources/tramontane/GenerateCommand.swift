import ArgumentParser
import Foundation
import Inference
import Pipeline

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate tokens from a model (greedy).")

    @Argument(help: "Any model file `inspect` reads.")
    var model: String

    @Option(name: .customLong("prompt-ids"), help: "Prompt token ids, comma-separated.")
    var promptIDs: String

    @Option(name: .customLong("max-tokens"), help: "Tokens to generate.")
    var maxTokens: Int = 32

    @Option(name: .customLong("prefill-chunk"), help: "Prompt tokens per forward pass.")
    var prefillChunk: Int = 512

    @Option(help: "Context capacity (models without a sliding window).")
    var ctx: Int = 4096

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    struct Result: Codable {
        var ids: [Int]
        var promptTokens: Int
        var seconds: Double
        var tokensPerSecond: Double
        enum CodingKeys: String, CodingKey { case ids, seconds; case promptTokens = "prompt_tokens", tokensPerSecond = "tokens_per_second" }
    }

    func validate() throws {
        guard maxTokens >= 0, prefillChunk >= 1, ctx >= 1 else { throw ValidationError("--max-tokens, --prefill-chunk and --ctx must be positive") }
    }

    func run() throws {
        let prompt = try promptIDs.split(separator: ",").map { s -> Int in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw ValidationError("--prompt-ids: \"\(s)\" is not a token id") }
            return v
        }
        guard !prompt.isEmpty else { throw ValidationError("--prompt-ids is empty") }
        let m = try Validator.load(model, threads: threads.threads)
        let start = Date()
        let ids = try Generation.greedy(m, prompt: prompt, maxTokens: maxTokens, prefillChunk: prefillChunk, capacity: ctx,
                                        stop: m.config.eosTokenID.map { [$0] } ?? [])
        let seconds = Date().timeIntervalSince(start)
        let result = Result(ids: ids, promptTokens: prompt.count, seconds: seconds, tokensPerSecond: Double(ids.count) / max(seconds, 1e-9))
        if out.json { return try out.printJSON(result) }
        print(ids.map(String.init).joined(separator: ","))
        FileHandle.standardError.write(Data(String(format: "%d tokens in %.2f s (%.1f tokens/s)\n", ids.count, seconds, result.tokensPerSecond).utf8))
    }
}
