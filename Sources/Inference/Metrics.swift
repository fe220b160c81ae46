import Foundation

/// Quantization-error statistics over scored positions, as llama-perplexity's KL-divergence
/// mode reports them: perplexities, KL(base ‖ model), top-1 agreement, RMS Δp.
public struct QualityAccumulator {
    package private(set) var nllModel: [Double] = []
    package private(set) var nllBase: [Double] = []
    package private(set) var kld: [Double] = []
    package private(set) var sameTop = 0
    package private(set) var dp2: Double = 0

    package init() {}

    /// log-softmax of `n` logits, in Double.
    package static func logSoftmax(_ x: UnsafeBufferPointer<Float>) -> [Double] {
        var m = -Double.infinity
        for v in x { m = max(m, Double(v)) }
        var s = 0.0
        for v in x { s += exp(Double(v) - m) }
        let lse = m + log(s)
        return x.map { Double($0) - lse }
    }

    /// Adds one position: both models' logits and the token that actually came next.
    package mutating func add(model: UnsafeBufferPointer<Float>, base: UnsafeBufferPointer<Float>, next: Int) {
        let lm = Self.logSoftmax(model), lb = Self.logSoftmax(base)
        nllModel.append(-lm[next])
        nllBase.append(-lb[next])
        var kl = 0.0
        var am = 0, ab = 0
        for i in lm.indices {
            let pb = exp(lb[i])
            if pb > 0 { kl += pb * (lb[i] - lm[i]) }
            if lm[i] > lm[am] { am = i }
            if lb[i] > lb[ab] { ab = i }
        }
        kld.append(max(0, kl))
        if am == ab { sameTop += 1 }
        let d = exp(lm[next]) - exp(lb[next])
        dp2 += d * d
    }

    package var count: Int { kld.count }

    public struct Summary: Codable, Sendable {
        public var ppl: Double
        public var pplBase: Double
        public var meanLnPPLRatio: Double
        public var meanKLD: Double
        public var medianKLD: Double
        public var p99KLD: Double
        public var maxKLD: Double
        public var top1Agreement: Double
        public var rmsDp: Double
        public var tokensScored: Int
        enum CodingKeys: String, CodingKey {
            case ppl
            case pplBase = "ppl_base", meanLnPPLRatio = "mean_ln_ppl_ratio", meanKLD = "mean_kld", medianKLD = "median_kld"
            case p99KLD = "p99_kld", maxKLD = "max_kld", top1Agreement = "top1_agreement", rmsDp = "rms_dp", tokensScored = "tokens_scored"
        }
    }

    package var summary: Summary {
        let n = Double(max(1, count))
        let sorted = kld.sorted()
        func quantile(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded()))] }
        let mm = nllModel.reduce(0, +) / n, mb = nllBase.reduce(0, +) / n
        return Summary(ppl: exp(mm), pplBase: exp(mb), meanLnPPLRatio: mm - mb, meanKLD: kld.reduce(0, +) / n,
                       medianKLD: quantile(0.5), p99KLD: quantile(0.99), maxKLD: sorted.last ?? 0,
                       top1Agreement: Double(sameTop) / n, rmsDp: (dp2 / n).squareRoot(), tokensScored: count)
    }
}
