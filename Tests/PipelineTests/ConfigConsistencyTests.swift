import Checkpoints
import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

/// A checkpoint that contradicts itself is refused by `convert` and `quantize` before anything
/// is written: tensor shapes against the config, layers past the config's count, integers as
/// weights, a tokenizer that does not parse or does not fit the embeddings. Each crafted folder
/// is tiny-mistral's HF f32 checkpoint with one thing changed.
final class ConfigConsistencyTests: XCTestCase {
    let source = Fixtures.tinyMistral("hf-safetensors-f32")

    /// A copy of the fixture folder with `config.json` edited by `config` and extra files.
    func folder(config edit: (inout [String: Any]) -> Void = { _ in }, weights: (([UInt8]) -> [UInt8])? = nil,
                files: [String: [UInt8]] = [:]) throws -> TempDir {
        let dir = TempDir()
        let weightBytes = readBytes(source + "/model.safetensors")
        FileManager.default.createFile(atPath: dir.file("model.safetensors"), contents: Data(weights?(weightBytes) ?? weightBytes))
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(readBytes(source + "/config.json"))) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir.file("config.json")))
        for (name, bytes) in files { _ = dir.write(name, bytes) }
        return dir
    }

    /// `convert` and `quantize` both refuse `path` with an error whose text has `words`, and
    /// leave no output.
    func assertRefused(_ dir: TempDir, _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try assertRefused(dir.path, words, file: file, line: line)
    }

    func assertRefused(_ path: String, _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let out = TempDir()
        var o = Converter.Options()
        o.hashSources = false
        XCTAssertThrowsError(try Converter.convert(path, to: out.file("c.tmt"), options: o), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(words), "convert: \(e)", file: file, line: line)
        }
        var q = Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 2))
        q.hashSources = false
        XCTAssertThrowsError(try Quantizer.quantize(path, to: out.file("q.tmt"), options: q), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(words), "quantize: \(e)", file: file, line: line)
        }
        XCTAssertEqual(out.contents(), [], "nothing written", file: file, line: line)
    }

    func testTheFixtureItselfPasses() throws {
        let path = try folder()
        XCTAssertNoThrow(try Checkpoint.open(path.path).native().checkAgainstConfig())
    }

    func testShapesThatContradictTheConfigAreRefused() throws {
        // intermediate_size 192 → 128: every w1/w2/w3 contradicts it (the attention still fits).
        let ffn = try folder(config: { $0["intermediate_size"] = 128 })
        try assertRefused(ffn, "hidden_dim × dim gives [128, 64]")
        // vocab_size 1024 → 1000: the embeddings do not match.
        let vocab = try folder(config: { $0["vocab_size"] = 1000 })
        try assertRefused(vocab, "vocab_size × dim gives [1000, 64]")
    }

    func testMoreLayersThanTheConfigAreRefused() throws {
        let path = try folder(config: { $0["num_hidden_layers"] = 1 })
        try assertRefused(path, "layer 1, but the config has n_layers = 1")
    }

    func testIntegerTensorsAreNotWeights() throws {
        // The final norm's F32 declared I32 (the same 4 bytes per element, so the file is valid).
        let path = try folder(weights: { bytes in
            let n = Int(bytes[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            var header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
            guard let r = header.range(of: #""model.norm.weight":{"dtype":"F32""#) else { XCTFail("fixture header changed"); return bytes }
            header.replaceSubrange(r, with: #""model.norm.weight":{"dtype":"I32""#)
            return Array(bytes[0..<8]) + Array(header.utf8) + Array(bytes[(8 + n)...])
        })
        try assertRefused(path, "i32 values are not weights")
    }

    func testTokenizersAreParsedBeforeTheyAreEmbedded() throws {
        let garbage = try folder(files: ["tokenizer.json": Array(#"{"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}"#.utf8)])
        try assertRefused(garbage, "tokenizer")
        let notJSONAtAll = try folder(files: ["tokenizer.json": Array("PK\u{03}\u{04} not a tokenizer".utf8)])
        try assertRefused(notJSONAtAll, "tokenizer")
        let notJSON = try folder(files: ["tokenizer_config.json": Array("{\"chat_template\": ".utf8)])
        XCTAssertThrowsError(try Converter.convert(notJSON.path, to: TempDir().file("x.tmt"), options: Converter.Options()))
        // A tokenizer of a kind Tramontane does not run (Mistral's Hugging Face tokenizer.json
        // uses a Metaspace pre-tokenizer) is embedded as it came, not refused.
        let metaspace = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}}"#
        let other = try folder(files: ["tokenizer.json": Array(metaspace.utf8)])
        let out = TempDir()
        var o = Converter.Options()
        o.hashSources = false
        XCTAssertNoThrow(try Converter.convert(other.path, to: out.file("m.tmt"), options: o))
        // Mistral v1's 32000 pieces do not fit the 1024 embeddings.
        let v1 = readBytes(Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path)
        let tooLarge = try folder(files: ["tokenizer.model": v1])
        try assertRefused(tooLarge, "32000 tokens, but the model's embeddings have 1024 rows")
    }

    /// Token ids past the vocabulary, in config.json, and GGUF tokenizer arrays that disagree in
    /// length, in a crafted GGUF (`GGUFBuilder.withTokenizer`) that converts when left alone: a
    /// llama vocabulary, which Tramontane carries without running, was embedded as it came.
    func testTokenIDsAndGGUFTokenizerArraysAreCheckedBeforeTheyAreEmbedded() throws {
        try assertRefused(try folder(config: { $0["eos_token_id"] = 1024 }), "eos_token_id = 1024 is not a token id")
        let dir = TempDir()
        var o = Converter.Options()
        o.hashSources = false
        var good = GGUFBuilder.withTokenizer(model: "llama")
        good.addModelTensors(vocabulary: 258)
        XCTAssertNoThrow(try Converter.convert(dir.write("good.gguf", good.build()), to: dir.file("good.tmt"), options: o))
        for (key, value) in [("tokenizer.ggml.scores", GGUFBuilder.Value.f32s(Array(repeating: 0, count: 257))),
                             ("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: 259)))] {
            var g = good
            g.set(key, value)
            let bad = TempDir()
            try assertRefused(bad.write("bad.gguf", g.build()), "\(key): \(key.hasSuffix("scores") ? 257 : 259) entries for 258 tokens")
        }
    }

    /// A tokenizer that passed is remembered by its bytes' SHA-256 (with the vocabulary it was
    /// checked against), so a ladder from one source builds it once; other bytes or another
    /// vocabulary are checked again.
    func testCheckedTokenizersAreRemembered() throws {
        let cacheDir = TempDir()
        let cache = HashCache(directory: cacheDir.path)
        let v1 = readBytes(Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path)
        try v1.withUnsafeBytes { try TokenizerLoader.check(kind: "sentencepiece", name: "v1", bytes: $0, vocabulary: 32000, cache: cache) }
        XCTAssertEqual(cacheDir.contents().count, 1)
        try v1.withUnsafeBytes { try TokenizerLoader.check(kind: "sentencepiece", name: "v1", bytes: $0, vocabulary: 32000, cache: cache) }
        XCTAssertEqual(cacheDir.contents().count, 1, "found, not stored again")
        XCTAssertThrowsError(try v1.withUnsafeBytes { try TokenizerLoader.check(kind: "sentencepiece", name: "v1", bytes: $0, vocabulary: 1024, cache: cache) })
        let garbage = Array(v1.prefix(1000))
        XCTAssertThrowsError(try garbage.withUnsafeBytes { try TokenizerLoader.check(kind: "sentencepiece", name: "cut", bytes: $0, vocabulary: 32000, cache: cache) })
        XCTAssertEqual(cacheDir.contents().count, 1, "nothing stored for what failed")
    }
}
