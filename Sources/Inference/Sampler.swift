import Foundation

/// Picks the next token from logits: greedy by default; with a temperature, top-k, top-p and
/// min-p filtering and a repeat penalty, reproducible for a given seed.
public struct Sampler {
    public var temperature: Float = 0
    public var topK: Int = 0
    public var topP: Float = 1
    public var minP: Float = 0
    public var repeatPenalty: Float = 1
    public var repeatWindow: Int = 64
    var rng: SplitMix64

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, minP: Float = 0, repeatPenalty: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repeatPenalty = repeatPenalty
        rng = SplitMix64(seed: seed)
    }

    public mutating func next(_ logits: [Float], history: [Int]) -> Int {
        var l = logits
        if repeatPenalty != 1 {
            // As llama.cpp: divide positive logits, multiply negative ones, for recent tokens.
            for id in Set(history.suffix(repeatWindow)) where id >= 0 && id < l.count {
                l[id] = l[id] > 0 ? l[id] / repeatPenalty : l[id] * repeatPenalty
            }
        }
        guard temperature > 0 else { return Generation.argmax(l) }
        var candidates = l.indices.map { ($0, l[$0] / temperature) }
        candidates.sort { $0.1 > $1.1 }
        if topK > 0 && topK < candidates.count { candidates.removeSubrange(topK...) }
        let m = candidates[0].1
        var probs = candidates.map { exp($0.1 - m) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        var keep = probs.count
        if minP > 0 { keep = min(keep, probs.firstIndex { $0 < minP * probs[0] } ?? keep) }
        if topP < 1 {
            var cum: Float = 0
            for (i, p) in probs.enumerated() { cum += p; if cum >= topP { keep = min(keep, i + 1); break } }
        }
        keep = max(1, keep)
        let kept = probs[0..<keep].reduce(0, +)
        var r = Float(Double(rng.next() >> 11) / Double(1 << 53)) * kept
        for i in 0..<keep {
            r -= probs[i]
            if r <= 0 { return candidates[i].0 }
        }
        return candidates[keep - 1].0
    }
}

/// A small, fast, seedable generator (Vigna's SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
