import Checkpoints
import TensorCore
import TestSupport
import XCTest
@testable import Inference

/// The f32 forward pass against transformers' logits (Tests/Fixtures/*/reference-logits.safetensors).
final class ReferenceLogitsTests: XCTestCase {
    static func reference(_ path: String) throws -> [String: (shape: [Int], floats: [Float], ints: [Int])] {
        var out: [String: (shape: [Int], floats: [Float], ints: [Int])] = [:]
        for t in try FixtureSafetensors.read(path).values {
            t.bytes.withBytes { b in
                switch t.dtype {
                case "F32": out[t.name] = (t.shape, (0..<(b.count / 4)).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }, [])
                case "I32": out[t.name] = (t.shape, [], (0..<(b.count / 4)).map { Int(b.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) })
                case "I64": out[t.name] = (t.shape, [], (0..<(b.count / 8)).map { Int(b.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) })
                default: break
                }
            }
        }
        return out
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Float], fromRow: Int = 0, toRow: Int? = nil, columns: Int) -> Float {
        var m: Float = 0
        for r in fromRow..<(toRow ?? a.count / columns) { for c in 0..<columns { m = max(m, abs(a[r * columns + c] - b[r * columns + c])) } }
        return m
    }

    /// Logits of `ids` fed `chunk` tokens at a time through one cache.
    static func forwardInChunks(_ m: Transformer, _ ids: [Int], chunk: Int, cache: RotatingKVCache) throws -> [Float] {
        var logits: [Float] = []
        var i = 0
        while i < ids.count {
            logits += try m.forward(Array(ids[i..<min(ids.count, i + chunk)]), cache: cache)
            i += chunk
        }
        return logits
    }

    lazy var tiny = try? Self.reference(Fixtures.root.appendingPathComponent("tiny-mistral/reference-logits.safetensors").path)

    func model(_ layout: String) throws -> Transformer {
        try Transformer(weights: try ModelWeights(try Checkpoint.open(Fixtures.tinyMistral(layout)).native()), threads: 2)
    }

    func testEveryLayoutReproducesTransformersLogits() throws {
        let ref = try XCTUnwrap(tiny)
        for layout in Fixtures.tinyLayouts {
            let m = try model(layout)
            for name in ["random", "text"] {
                let ids = try XCTUnwrap(ref["\(name).input_ids"]).ints
                let expected = try XCTUnwrap(ref["\(name).logits"]).floats
                let logits = try m.forward(ids, cache: m.makeCache())
                XCTAssertLessThanOrEqual(Self.maxAbsDiff(logits, expected, columns: 1024), 1e-3, "\(layout) \(name)")
            }
        }
    }

    /// The window is real: after position 16 the logits differ from full attention.
    func testSlidingWindowMatters() throws {
        let ref = try XCTUnwrap(tiny)
        let m = try model("native-safetensors-bf16")
        let ids = try XCTUnwrap(ref["random.input_ids"]).ints
        let full = try XCTUnwrap(ref["random.logits_full_attention"]).floats
        let logits = try m.forward(ids, cache: m.makeCache())
        XCTAssertLessThanOrEqual(Self.maxAbsDiff(logits, full, toRow: 16, columns: 1024), 1e-3)
        XCTAssertGreaterThan(Self.maxAbsDiff(logits, full, fromRow: 16, columns: 1024), 1e-2)
    }

    /// Chunked prefill and token-by-token decoding give the logits of one pass, also when a
    /// chunk straddles the window edge; the cache never holds more than the window.
    func testChunkedPrefillMatchesOnePass() throws {
        let ref = try XCTUnwrap(tiny)
        let m = try model("hf-safetensors-f32")
        let ids = try XCTUnwrap(ref["random.input_ids"]).ints
        let whole = try m.forward(ids, cache: m.makeCache())
        for chunk in [1, 5, 7, 16, 17, 31] {
            let cache = m.makeCache()
            XCTAssertEqual(cache.slots, 16)
            let logits = try Self.forwardInChunks(m, ids, chunk: chunk, cache: cache)
            XCTAssertLessThanOrEqual(Self.maxAbsDiff(logits, whole, columns: 1024), 1e-4, "chunk \(chunk)")
        }
    }

    /// An f16 cache (generate's default) reads the chunks before the current one rounded to
    /// f16: the logits stay within 1e-2 of the f32 pass and of transformers, across the window,
    /// and it holds half the bytes.
    func testHalfPrecisionCacheStaysClose() throws {
        let ref = try XCTUnwrap(tiny)
        let m = try model("hf-safetensors-f32")
        let ids = try XCTUnwrap(ref["text.input_ids"]).ints
        let expected = try XCTUnwrap(ref["text.logits"]).floats
        for chunk in [1, 5, 16] {
            let half = m.makeCache(precision: .f16), full = m.makeCache()
            let logits = try Self.forwardInChunks(m, ids, chunk: chunk, cache: half)
            _ = try Self.forwardInChunks(m, ids, chunk: chunk, cache: full)
            let d = Self.maxAbsDiff(logits, expected, columns: 1024)
            XCTAssertLessThanOrEqual(d, 1e-2, "chunk \(chunk)")
            if chunk == 1 { XCTAssertGreaterThan(d, 0, "the f16 cache is really used") }
            XCTAssertEqual(half.bytes * 2, full.bytes)
        }
    }

    func testGreedyContinuationWithEveryChunkSize() throws {
        let ref = try XCTUnwrap(tiny)
        let prompt = try XCTUnwrap(ref["text.input_ids"]).ints
        let expected = try XCTUnwrap(ref["text.greedy_ids"]).ints
        for layout in ["hf-pytorch-f16", "native-pth-bf16"] {
            let m = try model(layout)
            for chunk in [1, 5, 16, 31] {
                XCTAssertEqual(try Generation.greedy(m, prompt: prompt, maxTokens: expected.count, prefillChunk: chunk), expected, "\(layout) chunk \(chunk)")
            }
        }
    }

    /// A conversation in turns: the generator keeps its cache, so generating in three calls
    /// (the last with a few more prompt tokens) gives what one pass over the same tokens gives,
    /// and the transformers greedy ids past the window.
    func testGeneratorContinuesAcrossCalls() throws {
        let ref = try XCTUnwrap(tiny)
        let prompt = try XCTUnwrap(ref["text.input_ids"]).ints
        let expected = try XCTUnwrap(ref["text.greedy_ids"]).ints
        let m = try model("native-pth-bf16")
        let g = Generator(model: m, cache: m.makeCache(), prefillChunk: 4)
        let first = try g.generate(prompt, maxTokens: 15)
        XCTAssertEqual(first.stopReason, .maxTokens)
        XCTAssertEqual(first.promptTokens, prompt.count)
        let second = try g.generate([], maxTokens: expected.count - 15)
        XCTAssertEqual(second.promptTokens, 1, "the held-back last token of the first call")
        XCTAssertEqual(first.ids + second.ids, expected)
        XCTAssertEqual(g.history, prompt + expected)
        let extra = [5, 6, 7]
        let third = try g.generate(extra, maxTokens: 6)
        let whole = Generator(model: m, cache: m.makeCache(), prefillChunk: 7)
        XCTAssertEqual(try whole.generate(prompt + expected + extra, maxTokens: 6).ids, third.ids)
        // A stop token ends the answer and is held for the next call, not returned.
        let k = try XCTUnwrap((1..<expected.count).first { !expected[0..<$0].contains(expected[$0]) }, "a token new at k")
        let stopping = Generator(model: m, cache: m.makeCache(), stopTokens: [expected[k]])
        let r = try stopping.generate(prompt, maxTokens: 40)
        XCTAssertEqual(r.ids, Array(expected[0..<k]))
        XCTAssertEqual(r.stopToken, expected[k])
        XCTAssertEqual(r.stopReason, .eos)
        XCTAssertEqual(stopping.history.last, expected[k])
    }

    func testNoWindowContextLimitIsAnError() throws {
        let ref = try XCTUnwrap(tiny)
        var native = try Checkpoint.open(Fixtures.tinyMistral("native-safetensors-bf16")).native()
        native.config.slidingWindow = nil
        let m = try Transformer(weights: try ModelWeights(native), threads: 1)
        let ids = try XCTUnwrap(ref["random.input_ids"]).ints
        let cache = m.makeCache(capacity: 20)
        XCTAssertThrowsError(try m.forward(ids, cache: cache)) { e in
            XCTAssertEqual(e as? InferenceError, .contextFull(position: 47, capacity: 20))
        }
        let full = try XCTUnwrap(ref["random.logits_full_attention"]).floats
        XCTAssertLessThanOrEqual(Self.maxAbsDiff(try m.forward(ids, cache: m.makeCache()), full, columns: 1024), 1e-3)
        XCTAssertThrowsError(try m.forward([5000], cache: m.makeCache())) { e in
            XCTAssertEqual(e as? InferenceError, .tokenOutOfRange(id: 5000, vocabulary: 1024))
        }
    }

    func testSmolLM2FromItsGGUF() throws {
        let ref = try Self.reference(Fixtures.root.appendingPathComponent("smollm2/reference-logits.safetensors").path)
        let m = try Transformer(weights: try ModelWeights(try Checkpoint.open(Fixtures.smolLM2()).native()), threads: 2)
        // Exact f32 activations: transformers' greedy ids are the f32 model's; the default Q8
        // activations of decoding agree on most tokens but may flip a late near-tie.
        m.quantizedActivations = false
        let ids = try XCTUnwrap(ref["text.input_ids"]).ints
        let logits = try m.forward(ids, cache: m.makeCache())
        XCTAssertLessThanOrEqual(Self.maxAbsDiff(logits, try XCTUnwrap(ref["text.logits"]).floats, columns: 49152), 1e-2)
        let prompt = try XCTUnwrap(ref["prompt.input_ids"]).ints
        let expected = try XCTUnwrap(ref["prompt.greedy_ids"]).ints
        XCTAssertEqual(try Generation.greedy(m, prompt: prompt, maxTokens: expected.count, prefillChunk: 3), expected)
    }
}
