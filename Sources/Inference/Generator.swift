import Foundation

/// A conversation with the model: the KV cache and every token so far, so each call processes
/// only what is new (`generate` makes one call; a chat makes one per turn). Samples until a
/// stop token, the token budget, a full context (without a sliding window) or `shouldStop`.
public final class Generator {
    public enum StopReason: String, Codable, Sendable {
        case maxTokens = "max_tokens", eos, context, interrupted
    }

    public struct Result: Sendable {
        /// The new tokens, the stop token left out.
        public var ids: [Int]
        /// The stop token that ended the answer (an EOS or end-of-turn id), if one did.
        public var stopToken: Int?
        public var stopReason: StopReason
        /// Tokens processed before the first new one (the prompt, and a held-back token of the
        /// previous call), and the time that took.
        public var promptTokens: Int
        public var promptSeconds: Double
        public var decodeSeconds: Double

        public var promptTokensPerSecond: Double { Double(promptTokens) / max(promptSeconds, 1e-9) }
        public var tokensPerSecond: Double { Double(ids.count) / max(decodeSeconds, 1e-9) }
    }

    package let model: Transformer
    package let cache: RotatingKVCache
    public var sampler: Sampler
    /// Ids that end an answer (EOS, a chat format's end of turn).
    public var stopTokens: Set<Int>
    public var prefillChunk: Int
    /// Every token of the conversation, in order (what the repeat penalty looks back on).
    public private(set) var history: [Int] = []
    /// The last sampled token, not yet run through the model: the next call starts with it.
    private var pending: Int?

    package init(model: Transformer, cache: RotatingKVCache, sampler: Sampler = Sampler(), stopTokens: Set<Int> = [], prefillChunk: Int = 512) {
        self.model = model
        self.cache = cache
        self.sampler = sampler
        self.stopTokens = stopTokens
        self.prefillChunk = max(1, prefillChunk)
    }

    /// Tokens the cache holds (the context used so far).
    public var contextLength: Int { cache.length }

    /// Whether the last answer ended on a stop token (which the next call runs first).
    public var endedOnStopToken: Bool { pending.map(stopTokens.contains) ?? false }

    /// Forgets the conversation: an empty cache and history.
    public func reset() {
        cache.reset()
        history = []
        pending = nil
    }

    /// Runs `prompt` after what came before and samples up to `maxTokens` new tokens, handing
    /// each to `onToken` as it comes. `shouldStop` is asked before each token.
    public func generate(_ prompt: [Int], maxTokens: Int, shouldStop: () -> Bool = { false },
                         onToken: (Int) -> Void = { _ in }) throws -> Result {
        let input = (pending.map { [$0] } ?? []) + prompt
        pending = nil
        history += prompt
        let start = Date()
        var logits = try Generation.prefill(model, input, cache: cache, chunk: prefillChunk)
        let promptSeconds = Date().timeIntervalSince(start)
        var out: [Int] = []
        var stop: StopReason = .maxTokens, stopToken: Int?
        let decodeStart = Date()
        while out.count < maxTokens {
            if shouldStop() { stop = .interrupted; break }
            let next = sampler.next(logits, history: history)
            history.append(next)
            pending = next
            if stopTokens.contains(next) { stop = .eos; stopToken = next; break }
            out.append(next)
            onToken(next)
            if out.count == maxTokens { break }
            if cache.window == nil && cache.length >= cache.slots { stop = .context; break }
            logits = try model.forward([next], cache: cache)
            pending = nil
        }
        return Result(ids: out, stopToken: stopToken, stopReason: stop, promptTokens: input.count, promptSeconds: promptSeconds,
                      decodeSeconds: Date().timeIntervalSince(decodeStart))
    }
}
