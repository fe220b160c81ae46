import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

final class LayoutTests: XCTestCase {
    let config = ModelConfig(architecture: "mistral", dim: 8, nLayers: 1, headDim: 4, hiddenDim: 4, nHeads: 2, nKVHeads: 1,
                             normEps: 1e-5, vocabSize: 3, ropeTheta: 10000, slidingWindow: nil, tieEmbeddings: false, moe: nil)

    /// A tensor whose row r holds the value r in every column, to follow rows through permutations.
    func rows(_ name: String, _ shape: [Int]) -> SourceTensor {
        let (r, c) = (shape[0], shape.count > 1 ? shape[1] : 1)
        var b: [UInt8] = []
        for i in 0..<r { for _ in 0..<c { b.appendLE(Float(i).bitPattern) } }
        return SourceTensor(name: name, dtype: .f32, shape: shape, origin: "test") { try b.withUnsafeBytes { try ByteRegion.copying($0) } }
    }

    func hfModel(skip: Set<String> = [], extra: [String] = []) -> [SourceTensor] {
        var t = [rows("model.embed_tokens.weight", [3, 8]), rows("model.norm.weight", [8]), rows("lm_head.weight", [3, 8]),
                 rows("model.layers.0.input_layernorm.weight", [8]), rows("model.layers.0.self_attn.q_proj.weight", [8, 8]),
                 rows("model.layers.0.self_attn.k_proj.weight", [4, 8]), rows("model.layers.0.self_attn.v_proj.weight", [4, 8]),
                 rows("model.layers.0.self_attn.o_proj.weight", [8, 8]), rows("model.layers.0.post_attention_layernorm.weight", [8]),
                 rows("model.layers.0.mlp.gate_proj.weight", [4, 8]), rows("model.layers.0.mlp.down_proj.weight", [8, 4]),
                 rows("model.layers.0.mlp.up_proj.weight", [4, 8]), rows("model.layers.0.self_attn.rotary_emb.inv_freq", [2])]
        t = t.filter { !skip.contains($0.name) }
        t += extra.map { rows($0, [1]) }
        return t
    }

    func firstColumn(_ t: SourceTensor) throws -> [Float] {
        try t.load().withBytes { b in (0..<t.shape[0]).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: $0 * t.shape[1] * 4, as: UInt32.self)) } }
    }

    func testRenamesUnpermutesAndDrops() throws {
        let m = try Layout.toNative(hfModel(), config: config)
        XCTAssertEqual(m.sourceLayout, "hf")
        XCTAssertEqual(m.dropped, ["model.layers.0.self_attn.rotary_emb.inv_freq"])
        XCTAssertEqual(m.tensors.first?.name, "tok_embeddings.weight")
        XCTAssertEqual(m.tensors.last?.name, "output.weight")
        // HF rows per head: [even components..., odd components...]; native interleaves them.
        XCTAssertEqual(try firstColumn(XCTUnwrap(m.tensor("layers.0.attention.wq.weight"))), [0, 2, 1, 3, 4, 6, 5, 7])
        XCTAssertEqual(try firstColumn(XCTUnwrap(m.tensor("layers.0.attention.wk.weight"))), [0, 2, 1, 3])
        XCTAssertEqual(try firstColumn(XCTUnwrap(m.tensor("layers.0.attention.wv.weight"))), [0, 1, 2, 3], "v is not permuted")
    }

    func testMissingTensorsAreAllListed() {
        XCTAssertThrowsError(try Layout.toNative(hfModel(skip: ["lm_head.weight", "model.layers.0.mlp.up_proj.weight"]), config: config)) { e in
            XCTAssertEqual(e as? CheckpointError, .missingTensors(["output.weight", "layers.0.feed_forward.w3.weight"]))
        }
    }

    func testTiedEmbeddingsProvideOutput() throws {
        var tied = config
        tied.tieEmbeddings = true
        let m = try Layout.toNative(hfModel(skip: ["lm_head.weight"]), config: tied)
        XCTAssertEqual(m.aliases, ["output.weight": "tok_embeddings.weight"])
        XCTAssertEqual(try m.tensor("output.weight")?.load().array, try m.tensor("tok_embeddings.weight")?.load().array)
    }

    func testUnknownNamesAreRefused() {
        XCTAssertThrowsError(try Layout.toNative(hfModel(extra: ["model.layers.0.self_attn.q_proj.bias"]), config: config)) { e in
            XCTAssertEqual(e as? CheckpointError, .unknownTensors(layout: "hf", names: ["model.layers.0.self_attn.q_proj.bias"]))
        }
    }

    func testMixtralNamesRemap() throws {
        var moe = config
        moe.moe = .init(numExperts: 2, numExpertsPerToken: 1)
        var t = hfModel(skip: ["model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.up_proj.weight"])
        t.append(rows("model.layers.0.block_sparse_moe.gate.weight", [2, 8]))
        for e in 0..<2 { for w in ["w1", "w2", "w3"] { t.append(rows("model.layers.0.block_sparse_moe.experts.\(e).\(w).weight", [4, 8])) } }
        let m = try Layout.toNative(t, config: moe)
        XCTAssertNotNil(m.tensor("layers.0.feed_forward.gate.weight"))
        XCTAssertNotNil(m.tensor("layers.0.feed_forward.experts.1.w2.weight"))
        XCTAssertThrowsError(try Layout.toNative(t.filter { $0.name != "model.layers.0.block_sparse_moe.experts.1.w3.weight" }, config: moe)) { e in
            XCTAssertEqual(e as? CheckpointError, .missingTensors(["layers.0.feed_forward.experts.1.w3.weight"]))
        }
    }

    func testPermutationNeedsMatchingShape() {
        var wrong = config
        wrong.nHeads = 4
        XCTAssertThrowsError(try Layout.toNative(hfModel(), config: wrong)) { e in
            guard case .some(.invalidTensor(_, "layers.0.attention.wq.weight", _)) = e as? CheckpointError else { return XCTFail("\(e)") }
        }
    }
}
