import Checkpoints
import Foundation
import Inference
import TensorCore
import TestSupport
import Tokenizers
import XCTest
@testable import Pipeline

final class ValidatorTests: XCTestCase {
    func tokens(_ n: Int, vocab: Int) -> [Int] {
        var s: UInt64 = 9
        return (0..<n).map { _ in s = s &* 6364136223846793005 &+ 1; return Int(s >> 33) % vocab }
    }

    func testModelAgainstItselfHasNoError() throws {
        let base = try Validator.load(Fixtures.tinyMistral("hf-safetensors-f32"), threads: 2)
        let same = try Validator.load(Fixtures.tinyMistral("native-pth-bf16"), threads: 2)
        let s = try Validator.compare(model: same, base: base, tokens: tokens(256, vocab: 1024), ctx: 64, chunks: nil, bos: 1)
        XCTAssertEqual(s.tokensScored, 4 * 31)
        XCTAssertEqual(s.ppl, s.pplBase, accuracy: 1e-6 * s.pplBase)
        XCTAssertLessThan(s.meanKLD, 1e-9)
        XCTAssertEqual(s.top1Agreement, 1)
    }

    /// The ladder keeps the base's logits between rungs: the same numbers as running it each time.
    func testKeptBaseLogitsGiveTheSameMeasurement() throws {
        let dir = TempDir()
        let base = try Validator.load(Fixtures.tinyMistral("hf-safetensors-f32"), threads: 2)
        let out = dir.file("q4_0.tmt")
        _ = try Quantizer.quantize(Fixtures.tinyMistral("hf-safetensors-f32"), to: out, options: Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 2)))
        let m = try Validator.load(out, threads: 2)
        let ids = tokens(384, vocab: 1024)
        let plain = try Validator.compare(model: m, base: base, tokens: ids, ctx: 128, chunks: nil, bos: 1)
        let kept = Validator.BaseLogits(tokens: ids, ctx: 128)
        for _ in 0..<2 {
            let s = try Validator.measure(model: m, base: base, tokens: ids, ctx: 128, chunks: nil, bos: 1, baseLogits: kept).summary
            XCTAssertEqual(s.meanKLD, plain.meanKLD)
            XCTAssertEqual(s.pplBase, plain.pplBase)
            XCTAssertEqual(s.top1Agreement, plain.top1Agreement)
            XCTAssertEqual(s.tokensScored, 3 * 63)
        }
        XCTAssertThrowsError(try Validator.measure(model: m, base: base, tokens: ids, ctx: 64, chunks: nil, bos: 1, baseLogits: kept))
    }

    func testQuantizedModelsOrderByBits() throws {
        let dir = TempDir()
        let base = try Validator.load(Fixtures.tinyMistral("hf-safetensors-f32"), threads: 2)
        var kld: [String: Double] = [:]
        for preset in ["q8_0", "q4_0"] {
            let out = dir.file("\(preset).tmt")
            _ = try Quantizer.quantize(Fixtures.tinyMistral("hf-safetensors-f32"), to: out, options: Quantizer.Options(recipe: try Recipe.preset(preset, layers: 2)))
            let s = try Validator.compare(model: try Validator.load(out, threads: 2), base: base, tokens: tokens(512, vocab: 1024), ctx: 128, chunks: 4, bos: 1)
            XCTAssertEqual(s.tokensScored, 4 * 63)
            XCTAssertGreaterThan(s.meanKLD, 0)
            XCTAssertLessThanOrEqual(s.medianKLD, s.p99KLD)
            XCTAssertLessThanOrEqual(s.p99KLD, s.maxKLD)
            kld[preset] = s.meanKLD
        }
        XCTAssertLessThan(try XCTUnwrap(kld["q8_0"]) * 10, try XCTUnwrap(kld["q4_0"]), "\(kld)")
        XCTAssertThrowsError(try Validator.compare(model: base, base: base, tokens: tokens(10, vocab: 1024), ctx: 64, chunks: nil, bos: 1))
    }

    func testAgainstExternalLogits() throws {
        let m = try Validator.load(Fixtures.tinyMistral("hf-sharded-bf16"), threads: 2)
        let r = try Validator.againstLogits(model: m, file: Fixtures.root.appendingPathComponent("tiny-mistral/reference-logits.safetensors").path)
        XCTAssertEqual(Set(r.map(\.name)), ["random", "text"])
        for s in r {
            XCTAssertLessThanOrEqual(s.maxAbsLogitDiff, 1e-3, s.name)
            XCTAssertEqual(s.top1Agreement, 1, s.name)
            XCTAssertLessThan(s.meanKLD, 1e-6, s.name)
        }
    }

    func testSamplerAndStreamDecoder() throws {
        let logits: [Float] = [0.1, 2.0, 1.9, -1]
        var greedy = Sampler()
        XCTAssertEqual(greedy.next(logits, history: []), 1)
        var topOne = Sampler(temperature: 1, topK: 1, seed: 5)
        XCTAssertEqual(topOne.next(logits, history: []), 1)
        var a = Sampler(temperature: 1, seed: 42), b = Sampler(temperature: 1, seed: 42)
        let sa = (0..<50).map { _ in a.next(logits, history: []) }
        XCTAssertEqual(sa, (0..<50).map { _ in b.next(logits, history: []) }, "same seed, same samples")
        XCTAssertGreaterThan(Set(sa).count, 1, "temperature 1 samples more than one token")
        var penalized = Sampler(repeatPenalty: 2)
        XCTAssertEqual(penalized.next(logits, history: [1]), 2, "the repeated token is penalized")

        let tok = try ByteLevelBPE(ggufMetadata: try Checkpoint.open(Fixtures.smolLM2()).tokenizers[0].load().withBytes { try JSONParser.parse($0) })
        let ids = tok.encode("🙂 ok")
        var stream = StreamDecoder(tok)
        var pieces: [String] = []
        for id in ids { pieces.append(stream.push(id)) }
        pieces.append(stream.flush())
        XCTAssertEqual(pieces.joined(), "🙂 ok")
        XCTAssertFalse(pieces.contains { $0.contains("\u{FFFD}") }, "no partial UTF-8 printed: \(pieces)")
    }
}
