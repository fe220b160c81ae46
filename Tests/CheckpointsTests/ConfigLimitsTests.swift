import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

/// Every integer of a configuration is range-checked where it is read, and the error names the
/// key as its file spells it; a declared size the file does not hold costs neither time nor
/// memory in proportion to it.
final class ConfigLimitsTests: XCTestCase {
    let dir = TempDir()

    func expectInvalid(_ what: String, _ body: () throws -> ModelConfig, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), what, file: file, line: line) { e in
            guard case .some(.invalidConfig(_, let d)) = e as? CheckpointError else { return XCTFail("\(what): \(e)", file: file, line: line) }
            for m in mentions { XCTAssertTrue(d.contains(m), "\(what): \(d) does not mention \(m)", file: file, line: line) }
        }
    }

    let hf = #"{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100"#
    let params = #"{"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "hidden_dim": 128, "vocab_size": 100"#

    func testConfigJSONAndParamsJSONFieldsAreRangeChecked() throws {
        let hfCases: [(String, [String])] = [
            (#", "num_hidden_layers": 16777216}"#, ["num_hidden_layers = 16777216", "out of range 1…65536"]),
            (#", "num_local_experts": -1}"#, ["num_local_experts = -1"]),
            (#", "num_local_experts": 8, "num_experts_per_tok": 9}"#, ["num_experts_per_tok = 9", "1…8"]),
            (#", "num_attention_heads": 0}"#, ["num_attention_heads = 0"]),
            (#", "head_dim": -8}"#, ["head_dim = -8"]),
            (#", "sliding_window": -1}"#, ["sliding_window = -1"]),
            (#", "vocab_size": 1e30}"#, ["vocab_size is 1e+30, expected an integer"]),
            (#", "rms_norm_eps": -1}"#, ["rms_norm_eps"]),
        ]
        for (extra, mentions) in hfCases {
            let json = try JSONParser.parse(hf.replacingOccurrences(of: #""num_hidden_layers": 2"#, with: extra.contains("num_hidden_layers") ? #""x": 0"# : #""num_hidden_layers": 2"#)
                                                .replacingOccurrences(of: #""num_attention_heads": 4"#, with: extra.contains("num_attention_heads") ? #""y": 0"# : #""num_attention_heads": 4"#)
                                                .replacingOccurrences(of: #""vocab_size": 100"#, with: extra.contains("vocab_size") ? #""z": 0"# : #""vocab_size": 100"#) + extra)
            expectInvalid("config.json \(extra)", { try ModelConfig.fromHuggingFace(json, path: "config.json") }, mentions: mentions)
        }
        // use_sliding_window: false leaves sliding_window unread, whatever it holds.
        XCTAssertNil(try ModelConfig.fromHuggingFace(JSONParser.parse(hf + #", "use_sliding_window": false, "sliding_window": 0}"#), path: "c").slidingWindow)
        XCTAssertNil(try ModelConfig.fromHuggingFace(JSONParser.parse(hf + #", "num_local_experts": 0}"#), path: "c").moe, "0 experts: dense")

        let paramsCases: [(String, [String])] = [
            (#", "moe": {"num_experts": -3}}"#, ["moe.num_experts = -3"]),
            (#", "moe": {"num_experts": 2, "num_experts_per_tok": 5}}"#, ["moe.num_experts_per_tok = 5"]),
            (#", "moe": {"num_experts": 65536}}"#, ["32 × 65536", "expert blocks"]),
        ]
        for (extra, mentions) in paramsCases {
            let json = try JSONParser.parse(params.replacingOccurrences(of: #""n_layers": 2"#, with: #""n_layers": 32"#) + extra)
            expectInvalid("params.json \(extra)", { try ModelConfig.fromParams(json, path: "params.json") }, mentions: mentions)
        }
        // A .tmt's config uses params.json's names.
        let tmt = try JSONParser.parse(#"{"dim": 64, "n_layers": -2, "n_heads": 4, "hidden_dim": 128, "vocab_size": 100}"#)
        expectInvalid(".tmt config", { try ModelConfig.fromNativeJSON(tmt, path: "m.tmt") }, mentions: ["n_layers = -2"])
        let tmtMoE = try JSONParser.parse(#"{"dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 128, "vocab_size": 100, "moe": {"num_experts": -8, "num_experts_per_tok": 2}}"#)
        expectInvalid(".tmt config experts", { try ModelConfig.fromNativeJSON(tmtMoE, path: "m.tmt") }, mentions: ["moe.num_experts = -8"])
    }

    func testGGUFMetadataIntegersAreRangeChecked() throws {
        func gguf(_ change: [(String, GGUFBuilder.Value)]) -> GGUFBuilder {
            var g = GGUFBuilder()
            var kv: [(String, GGUFBuilder.Value)] = [
                ("general.architecture", .string("llama")), ("llama.embedding_length", .u32(64)), ("llama.block_count", .u32(2)),
                ("llama.feed_forward_length", .u32(128)), ("llama.attention.head_count", .u32(4)),
                ("llama.attention.head_count_kv", .u32(2)), ("llama.vocab_size", .u32(100)),
            ]
            for (k, v) in change {
                if let i = kv.firstIndex(where: { $0.0 == k }) { kv[i].1 = v } else { kv.append((k, v)) }
            }
            g.metadata = kv
            return g
        }
        func config(_ g: GGUFBuilder) throws -> ModelConfig {
            try ModelConfig.fromGGUF(GGUFFile(MappedFile(path: dir.write("m-\(UUID().uuidString).gguf", g.build()))))
        }
        XCTAssertEqual(try config(gguf([])).nLayers, 2)
        let cases: [([(String, GGUFBuilder.Value)], [String])] = [
            ([("llama.block_count", .u64(1 << 40))], ["llama.block_count = 1099511627776", "out of range 1…65536"]),
            ([("llama.block_count", .u64(UInt64.max))], ["llama.block_count is 1.8446744073709552e+19, expected an integer"]),
            ([("llama.block_count", .i64(-1))], ["llama.block_count = -1"]),
            ([("llama.attention.head_count", .u32(0))], ["llama.attention.head_count = 0"]),
            ([("llama.attention.head_count_kv", .i32(-2))], ["llama.attention.head_count_kv = -2"]),
            ([("llama.embedding_length", .u64(1 << 32))], ["llama.embedding_length = 4294967296"]),
            ([("llama.expert_count", .i32(-8))], ["llama.expert_count = -8"]),
            ([("llama.expert_count", .u32(8)), ("llama.expert_used_count", .u32(0))], ["llama.expert_used_count = 0", "1…8"]),
            ([("llama.attention.sliding_window", .i64(-4096))], ["llama.attention.sliding_window = -4096"]),
            ([("llama.block_count", .string("32"))], ["llama.block_count is \"32\", expected an integer"]),
            ([("llama.rope.freq_base", .f32(-1))], ["llama.rope.freq_base"]),
        ]
        for (change, mentions) in cases {
            expectInvalid("\(change)", { try config(gguf(change)) }, mentions: mentions)
        }
        XCTAssertNil(try config(gguf([("llama.expert_count", .u32(0))])).moe, "0 experts: dense")
    }

    /// BOS, EOS and padding ids must be ids of the config's vocabulary (100 tokens here), in
    /// config.json, a `.tmt`'s config and GGUF metadata without a tokens array (with one,
    /// `GGUFVocabularyFields` holds them to it). Two rules for what real files hold: a list of
    /// ids has each checked and is not kept; `pad_token_id: -1` means no padding token.
    func testTokenIDsAreIDsOfTheVocabulary() throws {
        let fine = try ModelConfig.fromHuggingFace(JSONParser.parse(hf + #", "bos_token_id": 1, "eos_token_id": 99, "pad_token_id": -1}"#), path: "c")
        XCTAssertEqual(fine.bosTokenID, 1)
        XCTAssertEqual(fine.eosTokenID, 99)
        XCTAssertNil(try ModelConfig.fromHuggingFace(JSONParser.parse(hf + #", "eos_token_id": [2, 98]}"#), path: "c").eosTokenID)
        let hfCases: [(String, [String])] = [
            (#", "bos_token_id": 100}"#, ["bos_token_id = 100 is not a token id", "100 tokens"]),
            (#", "eos_token_id": -1}"#, ["eos_token_id = -1 is not a token id"]),
            (#", "eos_token_id": 4294967296}"#, ["eos_token_id = 4294967296"]),
            (#", "eos_token_id": [2, 100]}"#, ["eos_token_id[1] = 100"]),
            (#", "pad_token_id": 100}"#, ["pad_token_id = 100"]),
            (#", "pad_token_id": -2}"#, ["pad_token_id = -2"]),
            (#", "bos_token_id": "1"}"#, ["bos_token_id is \"1\", expected a token id"]),
        ]
        for (extra, mentions) in hfCases {
            expectInvalid("config.json \(extra)", { try ModelConfig.fromHuggingFace(JSONParser.parse(hf + extra), path: "config.json") }, mentions: mentions)
        }
        let tmt = try JSONParser.parse(params + #", "bos_token_id": 1, "eos_token_id": 100}"#)
        expectInvalid(".tmt config", { try ModelConfig.fromNativeJSON(tmt, path: "m.tmt") }, mentions: ["eos_token_id = 100"])
        XCTAssertEqual(try ModelConfig.fromNativeJSON(JSONParser.parse(params + #", "bos_token_id": 1, "eos_token_id": 2}"#), path: "m.tmt").eosTokenID, 2)

        func gguf(_ ids: [(String, GGUFBuilder.Value)]) throws -> ModelConfig {
            var g = GGUFBuilder()
            g.metadata = [
                ("general.architecture", .string("llama")), ("llama.embedding_length", .u32(64)), ("llama.block_count", .u32(2)),
                ("llama.feed_forward_length", .u32(128)), ("llama.attention.head_count", .u32(4)), ("llama.vocab_size", .u32(100)),
                ("tokenizer.ggml.model", .string("none")),
            ] + ids
            return try ModelConfig.fromGGUF(GGUFFile(MappedFile(path: dir.write("ids-\(UUID().uuidString).gguf", g.build()))))
        }
        XCTAssertEqual(try gguf([("tokenizer.ggml.bos_token_id", .u32(99))]).bosTokenID, 99)
        expectInvalid("GGUF bos", { try gguf([("tokenizer.ggml.bos_token_id", .u32(100))]) }, mentions: ["tokenizer.ggml.bos_token_id = 100"])
        expectInvalid("GGUF eos", { try gguf([("tokenizer.ggml.eos_token_id", .i32(-1))]) }, mentions: ["tokenizer.ggml.eos_token_id = -1"])
        // A config made in code is held to the same rule.
        var made = fine
        made.bosTokenID = 100
        XCTAssertThrowsError(try made.validate(path: "made"))
    }

    /// 65 536 declared layers over a file that holds none: the error lists ten names and counts
    /// the rest (it built a list of every missing name: 150M strings for 2^24 layers).
    func testMissingNamesAreCappedAndCounted() throws {
        let native = try NameMap.named("native")
        let config = ModelConfig(architecture: "mistral", dim: 8, nLayers: ModelConfig.Limits.layers.upperBound, headDim: 4, hiddenDim: 4,
                                 nHeads: 2, nKVHeads: 1, normEps: 1e-5, vocabSize: 10, ropeTheta: 10000, slidingWindow: nil,
                                 tieEmbeddings: false, moe: nil)
        var have: Set<String> = ["tok_embeddings.weight", "norm.weight", "output.weight"]
        for n in ["attention_norm", "attention.wq", "attention.wk", "attention.wv", "attention.wo", "ffn_norm",
                  "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"] { have.insert("layers.0.\(n).weight") }
        let start = Date()
        XCTAssertThrowsError(try Layout.checkRequired(have, config: config, native: native)) { e in
            guard case .some(.missingTensors(let names, let total)) = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertEqual(names.count, Layout.listedMissing)
            XCTAssertEqual(names.first, "layers.1.attention_norm.weight")
            XCTAssertEqual(total, (config.nLayers - 1) * 9)
            XCTAssertTrue("\(e)".contains("(589815 in all)"), "\(e)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        // With experts: each missing expert counted, still ten names listed.
        var moe = config
        moe.nLayers = 16
        moe.moe = .init(numExperts: 65_536, numExpertsPerToken: 2)
        XCTAssertThrowsError(try Layout.checkRequired(["tok_embeddings.weight", "norm.weight", "output.weight"], config: moe, native: native)) { e in
            guard case .some(.missingTensors(let names, let total)) = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertEqual(names.count, Layout.listedMissing)
            XCTAssertEqual(total, 16 * (6 + 1 + 3 * 65_536))
        }
    }
}
