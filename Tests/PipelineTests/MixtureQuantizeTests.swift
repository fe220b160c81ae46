import Checkpoints
import TestSupport
import XCTest
@testable import Pipeline

/// A Mixtral quantizes expert by expert (routers stay f32) and the quantized file still runs
/// close to transformers' logits.
final class MixtureQuantizeTests: XCTestCase {
    func testTinyMixtralQuantizesAndRuns() throws {
        for (source, stacked) in [(Fixtures.root.appendingPathComponent("tiny-mixtral/hf-bf16").path, false),
                                    (Fixtures.root.appendingPathComponent("tiny-mixtral/gguf-stacked/tiny-mixtral.gguf").path, true)] {
            let dir = TempDir()
            let reference = Fixtures.root.appendingPathComponent("tiny-mixtral/reference-logits.safetensors").path
            let out = dir.file("q8_0.tmt")
            var o = Quantizer.Options(recipe: try Recipe.preset("q8_0", layers: 2))
            o.threads = 2
            let plan = try Quantizer.quantize(source, to: out, options: o)
            let types = Dictionary(uniqueKeysWithValues: plan.tensors.map { ($0.name, $0.type) })
            XCTAssertEqual(types["layers.1.feed_forward.gate.weight"], "f32")
            XCTAssertEqual(types[stacked ? "layers.1.feed_forward.experts.w2.weight" : "layers.1.feed_forward.experts.3.w2.weight"], "q8_0")
            let results = try Validator.againstLogits(model: try Validator.load(out, threads: 2), file: reference)
            let r = try XCTUnwrap(results.first)
            XCTAssertLessThan(r.meanKLD, 0.01)
            XCTAssertGreaterThanOrEqual(r.top1Agreement, 0.9, source)
        }
    }
}
