/// Prompt processing in chunks, and greedy decoding (`Generator` with the default sampler).
package enum Generation {
    /// Runs `prompt` through the model in chunks of `chunk` tokens; returns the last row of logits.
    package static func prefill(_ model: Transformer, _ prompt: [Int], cache: RotatingKVCache, chunk: Int) throws -> [Float] {
        var last: [Float] = []
        var i = 0
        let step = max(1, chunk)
        while i < prompt.count {
            let part = Array(prompt[i..<min(prompt.count, i + step)])
            last = try model.forward(part, cache: cache, lastOnly: true)
            i += step
        }
        return last
    }

    /// The index of the largest value (the first one on ties, as torch.argmax does).
    package static func argmax(_ x: [Float]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }

    /// Greedy continuation of `prompt`: `maxTokens` ids, stopping early at (and including) a
    /// token of `stop`.
    package static func greedy(_ model: Transformer, prompt: [Int], maxTokens: Int, prefillChunk: Int = 512,
                              capacity: Int = 4096, stop: Set<Int> = []) throws -> [Int] {
        let g = Generator(model: model, cache: model.makeCache(capacity: capacity), stopTokens: stop, prefillChunk: prefillChunk)
        let r = try g.generate(prompt, maxTokens: maxTokens)
        return r.ids + (r.stopToken.map { [$0] } ?? [])
    }
}
