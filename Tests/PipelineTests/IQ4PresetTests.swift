import Pipeline
import TensorCore
import XCTest

/// The iq4_nl / iq4_xs presets follow llama.cpp's `llama_tensor_get_type` for those ftypes
/// (formats/presets.md): output (and a tied embedding) Q6_K, wv Q5_K from 4 query heads per KV
/// head, the first eighth of the layers' w2 Q5_K without an importance matrix, the 8-expert
/// rules, IQ4 elsewhere.
final class IQ4PresetTests: XCTestCase {
    func type(_ r: Recipe, _ name: String) -> DType { r.type(for: name, shape: [576, 576]).0 }

    func testRules() throws {
        let five = DType(rawValue: "q5_k") ?? .q5_0
        for (preset, base) in [("iq4_nl", DType.iq4_nl), ("iq4_xs", .iq4_xs)] {
            let smol = try Recipe.preset(preset, layers: 30, gqa: 3, tiedEmbeddings: true)   // SmolLM2: 9 heads, 3 KV heads
            XCTAssertEqual(type(smol, "output.weight"), .q6_k)
            XCTAssertEqual(type(smol, "tok_embeddings.weight"), .q6_k, "a tied embedding is the output")
            XCTAssertEqual(type(smol, "layers.0.attention.wv.weight"), base, "gqa 3: no bump")
            for i in 0..<3 { XCTAssertEqual(type(smol, "layers.\(i).feed_forward.w2.weight"), five, "layer \(i) < 30/8") }
            XCTAssertEqual(type(smol, "layers.3.feed_forward.w2.weight"), base)
            XCTAssertEqual(type(smol, "layers.13.feed_forward.w2.weight"), base, "not layer 1 and 3 by prefix")
            XCTAssertEqual(type(smol, "layers.5.attention.wq.weight"), base)
            XCTAssertEqual(smol.type(for: "norm.weight", shape: [576]).0, .f32)

            let mistral = try Recipe.preset(preset, layers: 32, gqa: 4)   // Mistral-7B: 32 heads, 8 KV heads
            XCTAssertEqual(type(mistral, "layers.31.attention.wv.weight"), five)
            XCTAssertEqual(type(mistral, "layers.3.feed_forward.w2.weight"), five)
            XCTAssertEqual(type(mistral, "layers.4.feed_forward.w2.weight"), base)

            XCTAssertEqual(type(mistral, "tok_embeddings.weight"), base, "untied")

            let mixtral = try Recipe.preset(preset, layers: 32, gqa: 4, experts: 8)
            XCTAssertEqual(type(mixtral, "layers.7.attention.wv.weight"), .q8_0)
            XCTAssertEqual(type(mixtral, "layers.7.attention.wk.weight"), .q8_0)
            XCTAssertEqual(type(mixtral, "layers.7.attention.wo.weight"), five)
            XCTAssertEqual(type(mixtral, "layers.2.feed_forward.experts.5.w2.weight"), five)
            XCTAssertEqual(type(mixtral, "layers.9.feed_forward.experts.5.w2.weight"), base)

            let withImatrix = try Recipe.preset(preset, layers: 32, gqa: 4, imatrix: true)
            XCTAssertEqual(type(withImatrix, "layers.0.feed_forward.w2.weight"), base, "no w2 bump with an imatrix")
            XCTAssertEqual(type(withImatrix, "layers.0.attention.wv.weight"), five)
        }
        XCTAssertTrue(Recipe.presetNames.contains("iq4_nl") && Recipe.presetNames.contains("iq4_xs"))
    }
}
