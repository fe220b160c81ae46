import Checkpoints
import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Inference

/// A tiny random Mixtral (4 experts, 2 per token; Tests/Fixtures/tiny-mixtral, made by its
/// make.py with transformers) against transformers' float32 logits and greedy ids, from its
/// Hugging Face checkpoint (one tensor per expert) and from a GGUF with stacked experts.
final class MixtureOfExpertsTests: XCTestCase {
    let path = Fixtures.root.appendingPathComponent("tiny-mixtral/hf-bf16").path
    let gguf = Fixtures.root.appendingPathComponent("tiny-mixtral/gguf-stacked/tiny-mixtral.gguf").path

    func load(_ source: String? = nil) throws -> (Transformer, [String: (shape: [Int], floats: [Float], ints: [Int])]) {
        let m = try Transformer(weights: try ModelWeights(try Checkpoint.open(source ?? path).native()), threads: 2)
        let ref = try ReferenceLogitsTests.reference(Fixtures.root.appendingPathComponent("tiny-mixtral/reference-logits.safetensors").path)
        return (m, ref)
    }

    func testLogitsMatchTransformersInOnePassAndInChunks() throws {
        for source in [path, gguf] {
            let (m, ref) = try load(source)
            let ids = try XCTUnwrap(ref["random.input_ids"]).ints
            let expected = try XCTUnwrap(ref["random.logits"]).floats
            let v = m.config.vocabSize
            XCTAssertEqual(m.config.moe?.numExperts, 4)
            let one = try m.forward(ids, cache: m.makeCache())
            XCTAssertLessThan(ReferenceLogitsTests.maxAbsDiff(one, expected, columns: v), 1e-3)
            for chunk in [1, 7] {
                let chunked = try ReferenceLogitsTests.forwardInChunks(m, ids, chunk: chunk, cache: m.makeCache())
                XCTAssertLessThan(ReferenceLogitsTests.maxAbsDiff(chunked, expected, columns: v), 1e-3, "\(source) chunk \(chunk)")
            }
        }
    }

    func testGreedyIds() throws {
        let (m, ref) = try load()
        let prompt = Array(try XCTUnwrap(ref["random.input_ids"]).ints.prefix(16))
        let expected = try XCTUnwrap(ref["random.greedy_ids"]).ints
        m.quantizedActivations = false
        XCTAssertEqual(try Generation.greedy(m, prompt: prompt, maxTokens: expected.count, prefillChunk: 5), expected)
    }

    /// The routing is real: with one expert per token instead of two the logits move far from
    /// transformers' (a runner that ignored the router or summed all experts would too).
    func testRoutingMatters() throws {
        var native = try Checkpoint.open(path).native()
        native.config.moe?.numExpertsPerToken = 1
        let m = try Transformer(weights: try ModelWeights(native), threads: 2)
        let ref = try ReferenceLogitsTests.reference(Fixtures.root.appendingPathComponent("tiny-mixtral/reference-logits.safetensors").path)
        let ids = try XCTUnwrap(ref["random.input_ids"]).ints
        let logits = try m.forward(ids, cache: m.makeCache())
        XCTAssertGreaterThan(ReferenceLogitsTests.maxAbsDiff(logits, try XCTUnwrap(ref["random.logits"]).floats, columns: m.config.vocabSize), 0.05)
    }
}
