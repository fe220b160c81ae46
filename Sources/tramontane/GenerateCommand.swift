import ArgumentParser
import Foundation
import Inference
import Pipeline
import TensorCore
import Tokenizers

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text (or token ids) from any model file.",
        discussion: "Greedy by default (reproducible); --temperature > 0 samples, reproducibly for a given --seed. Streams text to stdout; speed and the stop reason go to stderr.")

    @Argument(help: "Any model file `inspect` reads.")
    var model: String

    @Option(help: "The prompt text (needs the model's tokenizer).")
    var prompt: String?

    @Option(name: .customLong("prompt-file"), help: "A file holding the prompt text.")
    var promptFile: String?

    @Option(name: .customLong("prompt-ids"), help: "Prompt token ids, comma-separated (no tokenizer needed).")
    var promptIDs: String?

    @Option(name: .customLong("max-tokens"), help: "Tokens to generate at most.")
    var maxTokens: Int = 128

    @OptionGroup var sampling: SamplingOptions

    @Flag(help: "Wrap the prompt in the model's chat format (Mistral [INST] … [/INST], or ChatML for SmolLM2).")
    var chat = false

    @Option(help: "A system prompt (with --chat).")
    var system: String?

    @Flag(name: .customLong("ignore-eos"), help: "Do not stop at end-of-sequence or end-of-turn tokens: always --max-tokens tokens (for timing, as llama.cpp's --ignore-eos).")
    var ignoreEOS = false

    @Option(name: .customLong("prefill-chunk"), help: "Prompt tokens per forward pass.")
    var prefillChunk: Int = 512

    @OptionGroup var runtime: RuntimeOptions<Generate>
    @OptionGroup var out: OutputOptions

    struct Result: Codable {
        var ids: [Int]
        var text: String?
        var promptTokens: Int
        var stopReason: String
        var promptTokensPerSecond: Double
        var tokensPerSecond: Double
        /// Seconds to open the model (map, check, copy or repack its matrices), and from the
        /// start of loading to the first new token's logits (load + prompt).
        var loadSeconds: Double
        var firstTokenSeconds: Double
        enum CodingKeys: String, CodingKey {
            case ids, text
            case promptTokens = "prompt_tokens", stopReason = "stop_reason"
            case promptTokensPerSecond = "prompt_tokens_per_second", tokensPerSecond = "tokens_per_second"
            case loadSeconds = "load_seconds", firstTokenSeconds = "first_token_seconds"
        }
    }

    func validate() throws {
        guard [prompt, promptFile, promptIDs].compactMap({ $0 }).count == 1 else { throw ValidationError("give exactly one of --prompt, --prompt-file or --prompt-ids") }
        guard maxTokens >= 0, prefillChunk >= 1, runtime.ctx >= 1 else { throw ValidationError("--max-tokens, --prefill-chunk and --ctx must be positive") }
    }

    func run() throws {
        let loadStart = Date()
        let loaded = try LoadedModel(model, settings: runtime.settings)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        var tokenizer: (any Tokenizer)?
        var ids: [Int]
        var endOfTurn: Set<Int> = []
        if let promptIDs {
            ids = try promptIDs.split(separator: ",").map { s -> Int in
                guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw ValidationError("--prompt-ids: \"\(s)\" is not a token id") }
                return v
            }
            tokenizer = try? loaded.tokenizer()
        } else {
            let t = try loaded.tokenizer()
            tokenizer = t
            let text = try prompt ?? TextFile.read(promptFile ?? "")
            if chat {
                guard let format = ChatFormat.detect(t) else { throw ValidationError("this model's tokenizer has no known chat format") }
                ids = format.prompt(text, system: system, tokenizer: t)
                if let end = format.endOfTurn(t) { endOfTurn.insert(end) }
            } else {
                ids = t.encode(text)
                if t.addsBOS, let bos = t.bosID { ids.insert(bos, at: 0) }
            }
        }
        guard !ids.isEmpty else { throw ValidationError("the prompt is empty") }
        let generator = loaded.generator(sampler: sampling.sampler, extraStops: endOfTurn, prefillChunk: prefillChunk)
        if ignoreEOS { generator.stopTokens = [] }
        var stream = tokenizer.map(StreamDecoder.init)
        let streaming = !out.json && promptIDs == nil
        let interrupt = InterruptFlag()
        let r = try generator.generate(ids, maxTokens: maxTokens, shouldStop: { interrupt.isSet }) { next in
            if streaming, var s = stream {
                FileHandle.standardOutput.write(Data(s.push(next).utf8))
                stream = s
            }
        }
        if streaming, var s = stream { FileHandle.standardOutput.write(Data((s.flush() + "\n").utf8)) }
        let result = Result(ids: r.ids, text: tokenizer?.decode(r.ids), promptTokens: ids.count, stopReason: r.stopReason.rawValue,
                            promptTokensPerSecond: r.promptTokensPerSecond, tokensPerSecond: r.tokensPerSecond,
                            loadSeconds: loadSeconds, firstTokenSeconds: loadSeconds + r.promptSeconds)
        if out.json { return try out.printJSON(result) }
        if !streaming { print(r.ids.map(String.init).joined(separator: ",")) }
        FileHandle.standardError.write(Data(String(format: "prompt: %d tokens, %.1f tokens/s; generation: %d tokens, %.1f tokens/s; stop: %@\n",
                                                   ids.count, result.promptTokensPerSecond, r.ids.count, result.tokensPerSecond, r.stopReason.rawValue).utf8))
    }
}

extension Generate: RuntimeHelp {
    static let context: ArgumentHelp = "Context capacity in tokens. With a sliding window, memory stays at the window and generation can run past it; without one, generation stops at the context."
    static let kvCache: ArgumentHelp = "Precision of the key/value cache: f16 (half the memory and the bytes read per token, as llama.cpp) or f32 (exact)."
}
