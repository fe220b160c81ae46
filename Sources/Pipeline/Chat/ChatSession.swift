import Inference
import Tokenizers

/// A multi-turn conversation in a model's chat format. The KV cache is kept between turns, so
/// each turn runs only its own tokens through the model. When the next turn and its answer
/// budget would not fit in a context without a sliding window, the oldest turns are dropped and
/// the rest (the system prompt kept) is run again.
public final class ChatSession {
    public struct Turn: Sendable {
        public var user: String
        /// The answer's ids, the stop token left out.
        public var answer: [Int]
    }

    public struct Reply: Sendable {
        public var text: String
        public var result: Generator.Result
        /// Turns dropped from the start of the conversation to make room for this one.
        public var droppedTurns: Int
    }

    public let generator: Generator
    public let tokenizer: any Tokenizer
    public let format: ChatFormat
    public let system: String?
    public private(set) var turns: [Turn] = []
    /// The last reply's figures (for `/stats`).
    public private(set) var last: Generator.Result?

    /// Nil if the tokenizer has no known chat format.
    public init?(generator: Generator, tokenizer: any Tokenizer, system: String?) {
        guard let format = ChatFormat.detect(tokenizer) else { return nil }
        self.generator = generator
        self.tokenizer = tokenizer
        self.format = format
        self.system = system
        if let end = format.endOfTurn(tokenizer) { generator.stopTokens.insert(end) }
    }

    /// Tokens of context in use, and the cache's capacity.
    public var contextUsed: Int { generator.contextLength }
    public var contextCapacity: Int { generator.cache.slots }
    /// Whether old tokens leave the context by themselves (a sliding window rotates the cache).
    public var rotates: Bool { generator.cache.window != nil }

    /// Starts over: no turns, an empty cache.
    public func reset() {
        turns = []
        last = nil
        generator.reset()
    }

    /// Answers `user`, streaming the text to `onText` as it is decoded.
    public func reply(_ user: String, maxTokens: Int, shouldStop: () -> Bool = { false },
                      onText: (String) -> Void = { _ in }) throws -> Reply {
        var prompt = turnIDs(user, first: turns.isEmpty)
        var dropped = 0
        // + 1: the previous answer's last token, run with this turn.
        if !rotates, contextUsed + 1 + closing.count + prompt.count + maxTokens > contextCapacity, !turns.isEmpty {
            // Keep the newest turns that fit with this one and its answer budget, the first of
            // them re-encoded as the conversation's opening (BOS, system prompt).
            var kept = turns
            func replay() -> [Int] {
                var ids: [Int] = []
                for (i, t) in kept.enumerated() {
                    ids += turnIDs(t.user, first: i == 0) + t.answer + endOfTurn
                }
                return ids + turnIDs(user, first: kept.isEmpty)
            }
            var ids = replay()
            while !kept.isEmpty, ids.count + maxTokens > contextCapacity {
                kept.removeFirst()
                dropped += 1
                ids = replay()
            }
            turns = kept
            generator.reset()
            prompt = ids
        } else {
            prompt = closing + prompt
        }
        guard rotates || prompt.count + 2 <= contextCapacity - contextUsed else {
            throw PipelineError.turnTooLong(tokens: prompt.count, context: contextCapacity)
        }
        var stream = StreamDecoder(tokenizer)
        let budget = rotates ? maxTokens : min(maxTokens, contextCapacity - contextUsed - prompt.count - 1)
        let r = try generator.generate(prompt, maxTokens: budget, shouldStop: shouldStop) { onText(stream.push($0)) }
        let tail = stream.flush()
        if !tail.isEmpty { onText(tail) }
        turns.append(Turn(user: user, answer: r.ids))
        last = r
        return Reply(text: tokenizer.decode(r.ids), result: r, droppedTurns: dropped)
    }

    private func turnIDs(_ user: String, first: Bool) -> [Int] {
        format.turn(user, system: system, first: first, tokenizer: tokenizer)
    }

    private var endOfTurn: [Int] { format.endOfTurn(tokenizer).map { [$0] } ?? [] }

    /// What closes the previous answer before the next turn: nothing if it ended on its stop
    /// token (the generator runs that first), else the end-of-turn id.
    private var closing: [Int] {
        turns.isEmpty || generator.endedOnStopToken ? [] : endOfTurn
    }
}
