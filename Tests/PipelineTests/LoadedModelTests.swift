import Foundation
import Inference
import TestSupport
import XCTest
@testable import Pipeline

/// The loader `generate`, `chat` and `validate` share: the settings reach the model and its
/// generators, the tokenizer and the stop tokens come from the file itself.
final class LoadedModelTests: XCTestCase {
    func testSettingsTokenizerAndStopTokensOfSmolLM2() throws {
        let settings = LoadedModel.Settings(threads: 2, quantizedActivations: false, context: 96, kvCache: .f32)
        let loaded = try LoadedModel(try Fixtures.smolLM2(), settings: settings)
        XCTAssertFalse(loaded.transformer.quantizedActivations)
        XCTAssertTrue(try LoadedModel(try Fixtures.smolLM2(), settings: .init(threads: 2)).transformer.quantizedActivations)
        let eos = try XCTUnwrap(loaded.transformer.config.eosTokenID)
        XCTAssertEqual(loaded.stopTokens, [eos])
        let tokenizer = try loaded.tokenizer()
        XCTAssertEqual(tokenizer.vocabularySize, loaded.transformer.config.vocabSize)
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("The capital of France")), "The capital of France")
        let g = loaded.generator(sampler: Sampler(), extraStops: [7], prefillChunk: 16)
        XCTAssertEqual(g.cache.slots, 96)
        XCTAssertEqual(g.cache.precision, .f32)
        XCTAssertEqual(g.stopTokens, [eos, 7])
        XCTAssertEqual(g.prefillChunk, 16)
        // Each generator is a new conversation: its own empty cache.
        _ = try g.generate(tokenizer.encode("Hi"), maxTokens: 2)
        XCTAssertGreaterThan(g.contextLength, 0)
        XCTAssertEqual(loaded.generator(sampler: Sampler()).contextLength, 0)
    }

    func testAModelWithoutATokenizerLoadsAndSaysSoWhenOneIsAsked() throws {
        let loaded = try LoadedModel(Fixtures.tinyMistral("hf-safetensors-f32"), settings: .init(threads: 2))
        XCTAssertThrowsError(try loaded.tokenizer()) { XCTAssertTrue("\($0)".contains("no tokenizer"), "\($0)") }
        XCTAssertThrowsError(try LoadedModel(Fixtures.tinyMistral("no-such-layout"), settings: .init(threads: 2)))
    }
}
