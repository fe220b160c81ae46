import ArgumentParser
import Inference

/// The sampling flags of `generate` and `chat`.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0: all).")
    var topK: Int = 0
    @Option(name: .customLong("top-p"), help: "Keep the smallest set whose probability reaches p.")
    var topP: Float = 1
    @Option(name: .customLong("min-p"), help: "Drop tokens less likely than min-p × the most likely.")
    var minP: Float = 0
    @Option(name: .customLong("repeat-penalty"), help: "Penalty for the last 64 tokens (1: none).")
    var repeatPenalty: Float = 1
    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    func validate() throws {
        guard temperature >= 0, topP > 0, topP <= 1, minP >= 0, minP <= 1, repeatPenalty > 0 else { throw ValidationError("sampling parameters out of range") }
    }

    var sampler: Sampler {
        Sampler(temperature: temperature, topK: topK, topP: topP, minP: minP, repeatPenalty: repeatPenalty, seed: seed)
    }
}
