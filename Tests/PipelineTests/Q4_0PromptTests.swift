import Inference
import TestSupport
import XCTest
@testable import Pipeline

/// A Q4_0 model's prompt goes through the integer token kernel (`PackedQ4_0.multiply`) and its
/// decoding through the row kernels; both quantize the same activation rows to Q8 the same
/// way, so a prompt processed in one chunk and the same tokens decoded one at a time give the
/// same logits up to float summation order.
final class Q4_0PromptTests: XCTestCase {
    func testPromptInIntegersMatchesTokenByTokenDecoding() throws {
        let dir = TempDir()
        let out = dir.file("q4_0.tmt")
        _ = try Quantizer.quantize(Fixtures.tinyMistral("hf-safetensors-f32"), to: out,
                                   options: Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 2)))
        let m = try Validator.load(out, threads: 2)
        guard case .dense(let ffn) = m.weights.layers[0].feedForward else { return XCTFail("dense model expected") }
        XCTAssertTrue(ffn.w1.acceptsTokenGEMM && ffn.w2.acceptsTokenGEMM && m.weights.layers[0].wo.acceptsTokenGEMM,
                      "the test must exercise the integer prompt path")
        var s: UInt64 = 3
        let ids = (0..<40).map { _ in s = s &* 6364136223846793005 &+ 1; return Int(s >> 33) % m.config.vocabSize }
        let vocab = m.config.vocabSize
        let whole = try m.forward(ids, cache: m.makeCache())
        let cache = m.makeCache()
        var worst: Float = 0, scale: Float = 0
        for (p, id) in ids.enumerated() {
            let one = try m.forward([id], cache: cache)
            for v in 0..<vocab {
                worst = max(worst, abs(one[v] - whole[p * vocab + v]))
                scale = max(scale, abs(one[v]))
            }
        }
        XCTAssertLessThan(worst, 1e-4 * max(1, scale), "max |Δlogit| \(worst) of logits up to \(scale)")
    }
}
