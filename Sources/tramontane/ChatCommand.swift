import ArgumentParser
import Foundation
import Inference
import Pipeline
import TensorCore

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to a model, turn by turn, in its chat format.",
        discussion: """
        The model's chat format is chosen from its tokenizer: Mistral v1 ([INST] as text), Mistral v3 and tekken \
        ([INST] control tokens), or ChatML (SmolLM2). The KV cache is kept between turns, so each turn runs only its \
        own tokens. When the context fills, the oldest turns are dropped (the system prompt is kept).
        On a terminal: line editing and history (arrows, Ctrl-A/E/U/K/W), /reset, /stats, /help; Ctrl-C stops an \
        answer (or drops the line being typed), Ctrl-D leaves. From a pipe: one turn per line, the answers on \
        stdout (with --json one JSON object per turn).
        """)

    @Argument(help: "Any model file `inspect` reads, with a tokenizer.")
    var model: String

    @Option(help: "A system prompt, kept for the whole conversation.")
    var system: String?

    @Option(name: .customLong("max-tokens"), help: "Tokens per answer at most.")
    var maxTokens: Int = 512

    @OptionGroup var sampling: SamplingOptions

    @OptionGroup var runtime: RuntimeOptions<Chat>
    @OptionGroup var out: OutputOptions

    func validate() throws {
        guard maxTokens >= 1, runtime.ctx >= 16 else { throw ValidationError("--max-tokens must be positive and --ctx at least 16") }
    }

    /// One turn's figures (`--json`, one object per line).
    struct TurnRecord: Codable {
        var turn: Int
        var user: String
        var answer: String
        var promptTokens: Int
        var tokens: Int
        var stopReason: String
        var contextUsed: Int
        var droppedTurns: Int
        var promptTokensPerSecond: Double
        var tokensPerSecond: Double
        enum CodingKeys: String, CodingKey {
            case turn, user, answer, tokens
            case promptTokens = "prompt_tokens", stopReason = "stop_reason", contextUsed = "context_used"
            case droppedTurns = "dropped_turns", promptTokensPerSecond = "prompt_tokens_per_second", tokensPerSecond = "tokens_per_second"
        }
    }

    func run() throws {
        let loaded = try LoadedModel(model, settings: runtime.settings)
        let tokenizer = try loaded.tokenizer()
        guard let session = ChatSession(generator: loaded.generator(sampler: sampling.sampler), tokenizer: tokenizer, system: system) else {
            throw ValidationError("\(model): its tokenizer has no chat format Tramontane knows (Mistral v1/v3, tekken, ChatML)")
        }
        let interactive = LineEditor.isTerminal(STDIN_FILENO) && LineEditor.isTerminal(STDOUT_FILENO) && !out.json
        let editor = LineEditor()
        let interrupt = InterruptFlag()
        if interactive {
            say("chat with \((model as NSString).lastPathComponent): \(session.format.rawValue) format, context \(session.contextCapacity) tokens\(session.rotates ? " (sliding window)" : ""). /help for commands, Ctrl-D leaves.\n")
        }
        var turn = 0
        while true {
            let line: String
            if interactive {
                switch editor.read(prompt: "> ") {
                case .line(let l): line = l
                case .interrupted: continue
                case .end: return
                }
            } else {
                guard let l = readLine(strippingNewline: true) else { return }
                line = l
            }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text.hasPrefix("/") {
                switch text {
                case "/reset":
                    session.reset()
                    say("[conversation reset]\n")
                case "/stats": say(stats(session) + "\n")
                case "/help": say("/reset starts over, /stats shows the context and the speed, /quit leaves (or Ctrl-D); Ctrl-C stops an answer.\n")
                case "/quit", "/exit": return
                default: say("unknown command \(text): /help lists them\n")
                }
                continue
            }
            turn += 1
            interrupt.clear()
            let reply = try session.reply(text, maxTokens: maxTokens, shouldStop: { interrupt.isSet }) { piece in
                if !out.json { FileHandle.standardOutput.write(Data(piece.utf8)) }
            }
            if reply.droppedTurns > 0 {
                say("[the context was full: dropped the \(reply.droppedTurns) oldest turn\(reply.droppedTurns == 1 ? "" : "s")]\n")
            }
            let r = reply.result
            if out.json {
                try printJSONLine(TurnRecord(turn: turn, user: text, answer: reply.text, promptTokens: r.promptTokens, tokens: r.ids.count,
                                             stopReason: r.stopReason.rawValue, contextUsed: session.contextUsed, droppedTurns: reply.droppedTurns,
                                             promptTokensPerSecond: r.promptTokensPerSecond, tokensPerSecond: r.tokensPerSecond))
            } else {
                FileHandle.standardOutput.write(Data("\n".utf8))
                switch r.stopReason {
                case .interrupted: say("[stopped]\n")
                case .context: say("[the context is full: the answer stopped there; the next turn drops the oldest turns]\n")
                case .maxTokens: say("[--max-tokens \(maxTokens) reached]\n")
                case .eos: break
                }
            }
        }
    }

    /// Notes for the person at the terminal go to stderr, so stdout holds only the answers.
    private func say(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }

    private func printJSONLine<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try e.encode(value) + Data("\n".utf8))
    }

    private func stats(_ s: ChatSession) -> String {
        var lines = ["context: \(s.contextUsed) of \(s.contextCapacity) tokens\(s.rotates ? " (sliding window)" : ""), \(s.turns.count) turn\(s.turns.count == 1 ? "" : "s")"]
        if let r = s.last {
            lines.append(String(format: "last turn: %d prompt tokens at %.1f tokens/s, %d answer tokens at %.1f tokens/s (%@)",
                                r.promptTokens, r.promptTokensPerSecond, r.ids.count, r.tokensPerSecond, r.stopReason.rawValue))
        }
        return lines.joined(separator: "\n")
    }
}

extension Chat: RuntimeHelp {
    static let context: ArgumentHelp = "Context capacity in tokens (the whole conversation, unless the model has a sliding window)."
    static let kvCache: ArgumentHelp = "Precision of the key/value cache: f16 or f32."
}
