import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

final class ConfigTests: XCTestCase {
    func testParamsJSONDefaults() throws {
        let c = try ModelConfig.fromParams(JSONParser.parse(#"{"dim": 4096, "n_layers": 32, "hidden_dim": 14336, "n_heads": 32, "n_kv_heads": 8, "norm_eps": 1e-05, "vocab_size": 32000}"#), path: "params.json")
        XCTAssertEqual(c.headDim, 128)
        XCTAssertEqual(c.ropeTheta, 10000, "missing rope_theta means 10000")
        XCTAssertNil(c.slidingWindow, "missing sliding_window means none")
        XCTAssertFalse(c.tieEmbeddings)
    }

    func testHuggingFaceConfigVariants() throws {
        // Mistral-Nemo-like: head_dim differs from hidden/heads, rope_theta under rope_parameters, window null.
        let c = try ModelConfig.fromHuggingFace(JSONParser.parse(#"""
        {"hidden_size": 5120, "num_hidden_layers": 40, "num_attention_heads": 32, "num_key_value_heads": 8,
         "head_dim": 128, "intermediate_size": 14336, "vocab_size": 131072, "rms_norm_eps": 1e-05,
         "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}, "sliding_window": null,
         "tie_word_embeddings": false, "model_type": "mistral"}
        """#), path: "config.json")
        XCTAssertEqual(c.headDim, 128)
        XCTAssertNotEqual(c.headDim, c.dim / c.nHeads)
        XCTAssertEqual(c.ropeTheta, 1_000_000)
        XCTAssertNil(c.slidingWindow)
        let tiny = try Checkpoint.open(Fixtures.tinyMistral("hf-safetensors-f32")).config
        XCTAssertEqual(tiny?.slidingWindow, 16)
        XCTAssertEqual(tiny?.nKVHeads, 2)
        XCTAssertEqual(tiny?.headDim, 8)
        XCTAssertEqual(tiny, try Checkpoint.open(Fixtures.tinyMistral("native-pth-bf16")).config.map { var c = $0; c.architecture = "mistral"; c.bosTokenID = 1; c.eosTokenID = 2; return c })
    }

    func testInconsistentConfigIsRefused() {
        XCTAssertThrowsError(try ModelConfig.fromParams(JSONParser.parse(#"{"dim": 64, "n_layers": 2, "hidden_dim": 8, "n_heads": 8, "n_kv_heads": 3, "vocab_size": 10}"#), path: "p")) { e in
            XCTAssertTrue("\(e)".contains("not a multiple"), "\(e)")
        }
        XCTAssertThrowsError(try ModelConfig.fromParams(JSONParser.parse(#"{"dim": 64, "n_heads": 8}"#), path: "p")) { e in
            XCTAssertTrue("\(e)".contains("n_layers"), "\(e)")
        }
    }
}
