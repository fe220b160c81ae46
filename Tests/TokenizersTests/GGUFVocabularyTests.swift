import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Tokenizers

/// GGUF tokenizer metadata whose arrays indexed by token disagree, or whose ids name no token
/// (`GGUFVocabularyFields`), in crafted GGUF files (`GGUFBuilder.withTokenizer`, then one key
/// changed) read as `Checkpoint.open` reads them (`FixtureGGUF.tokenizerMetadata`).
final class GGUFVocabularyTests: XCTestCase {
    /// The tokenizer metadata of a GGUF file, as `Checkpoint.open` hands it to `TokenizerLoader`.
    func tokenizerMetadata(_ g: GGUFBuilder, in dir: TempDir) throws -> JSONValue {
        try FixtureGGUF(path: dir.write("m-\(UUID().uuidString).gguf", g.build())).tokenizerMetadata
    }

    /// token_type and scores must hold one entry per token, each of its kind, and may not come
    /// without tokens: each lie is refused naming the key (or the entry), for a gpt2 vocabulary
    /// and for a llama one (which Tramontane does not run, but carries into `.tmt` and exports),
    /// small and past the reader's deferral of long arrays. The file unchanged passes.
    func testGGUFFileWhoseArraysDisagreeIsRefused() throws {
        let dir = TempDir()
        for model in ["gpt2", "llama"] {
            for filler in [0, 1000] {
                let base = GGUFBuilder.withTokenizer(model: model, filler: filler)
                let count = 258 + filler
                let m = try tokenizerMetadata(base, in: dir)
                XCTAssertEqual(try GGUFVocabularyFields.check(m), count)
                if model == "gpt2" {
                    XCTAssertEqual(try ByteLevelBPE(ggufMetadata: m).encode("aab"), [256, 98])
                } else {
                    XCTAssertThrowsError(try ByteLevelBPE(ggufMetadata: m)) { e in
                        guard case .unsupported = e as? TokenizerError else { return XCTFail("\(e)") }
                    }
                }
                let cases: [(String, (inout GGUFBuilder) -> Void, String, String)] = [
                    ("token_type one short", { $0.set("tokenizer.ggml.token_type", .i32s(Array(repeating: 1, count: count - 1))) },
                     "tokenizer.ggml.token_type", "\(count - 1) entries for \(count) tokens"),
                    ("scores one long", { $0.set("tokenizer.ggml.scores", .f32s(Array(repeating: 0, count: count + 1))) },
                     "tokenizer.ggml.scores", "\(count + 1) entries for \(count) tokens"),
                    ("token_type as strings", { $0.set("tokenizer.ggml.token_type", .strings(Array(repeating: "1", count: count))) },
                     "tokenizer.ggml.token_type[0]", "is not a 32-bit integer"),
                    ("a token_type past 32 bits", { $0.set("tokenizer.ggml.token_type", .array(10, [.u64(1 << 40)] + Array(repeating: .u64(1), count: count - 1))) },
                     "tokenizer.ggml.token_type[0]", "1099511627776 is not a 32-bit integer"),
                    ("scores as strings", { $0.set("tokenizer.ggml.scores", .strings(Array(repeating: "x", count: count))) },
                     "tokenizer.ggml.scores[0]", "is not a number"),
                    ("token_type not an array", { $0.set("tokenizer.ggml.token_type", .i32(1)) }, "tokenizer.ggml.token_type", "not an array"),
                    ("scores without tokens", { $0.remove("tokenizer.ggml.tokens"); $0.remove("tokenizer.ggml.token_type") },
                     "tokenizer.ggml.scores", "given without tokenizer.ggml.tokens"),
                ]
                for (what, change, field, words) in cases {
                    var g = base
                    change(&g)
                    let m = try tokenizerMetadata(g, in: dir)
                    let builds: [() throws -> Int?] = [{ try GGUFVocabularyFields.check(m) }, { _ = try ByteLevelBPE(ggufMetadata: m); return nil }]
                    for build in builds {
                        let message = assertInvalidField(field) { try build() }
                        XCTAssertTrue(message.contains(words), "\(model) \(filler) \(what): \(message)")
                    }
                }
            }
        }
    }

    /// Every `tokenizer.ggml.*_token_id` must name a token of `tokenizer.ggml.tokens`, those
    /// Tramontane does not use (padding, eot) as those it does, in a gpt2 and a llama
    /// vocabulary; the ids as uint32.
    func testGGUFFileTokenIDsOutOfRangeAreRefused() throws {
        let dir = TempDir()
        for model in ["gpt2", "llama"] {
            for key in ["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                        "tokenizer.ggml.padding_token_id", "tokenizer.ggml.eot_token_id"] {
                var ok = GGUFBuilder.withTokenizer(model: model)
                ok.set(key, .u32(257))
                XCTAssertEqual(try GGUFVocabularyFields.check(tokenizerMetadata(ok, in: dir)), 258, "\(model) \(key) = 257")
                var g = GGUFBuilder.withTokenizer(model: model)
                g.set(key, .u32(258))
                // Embeddings for more ids than there are tokens: the config reader, which holds
                // BOS and EOS to vocab_size, lets 258 through; the tokens array does not.
                g.set("llama.vocab_size", .u32(1000))
                let m = try tokenizerMetadata(g, in: dir)
                let message = assertInvalidField(key) { try ByteLevelBPE(ggufMetadata: m) }
                XCTAssertTrue(message.contains("258 is not a token id in 0..<258"), "\(model): \(message)")
            }
        }
    }
}
