import Foundation
import Pipeline
import TensorCore
import TestSupport
import XCTest

/// The llama.cpp mixes against llama.cpp's own choices: Tests/Fixtures/presets/llama-types.json
/// holds the type llama-quantize gave every tensor for each preset, on GGUFs with SmolLM2's
/// configuration (30 layers, GQA 3, tied embeddings), a Mistral-7B-like one (32 layers, GQA 4)
/// and a Mixtral-like one (8 experts); made by scripts/fixtures/preset_types.py.
final class PresetTypesTests: XCTestCase {
    struct Config { let layers, gqa, experts: Int; let tied: Bool; let types: [String: [String: String]] }

    func configs() throws -> [String: Config] {
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("presets/llama-types.json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        return try json.mapValues { c in
            Config(layers: try XCTUnwrap(c["layers"] as? Int), gqa: try XCTUnwrap(c["gqa"] as? Int), experts: try XCTUnwrap(c["experts"] as? Int),
                   tied: try XCTUnwrap(c["tied_embeddings"] as? Bool), types: try XCTUnwrap(c["types"] as? [String: [String: String]]))
        }
    }

    /// Tramontane's preset gives each tensor llama.cpp's type.
    func check(_ preset: String, _ name: String, _ c: Config, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try XCTUnwrap(c.types[preset], "\(preset) in the fixture")
        let recipe = try Recipe.preset(preset, layers: c.layers, gqa: c.gqa, experts: c.experts, tiedEmbeddings: c.tied)
        XCTAssertGreaterThan(expected.count, 7 * c.layers, "\(name) \(preset): every matrix listed")
        var wrong: [String] = []
        for (tensor, type) in expected.sorted(by: { $0.key < $1.key }) {
            let shape = tensor.contains(".experts.") ? [8, 256, 256] : [256, 256]
            let (ours, _) = recipe.type(for: tensor, shape: shape)
            if ours.rawValue != type { wrong.append("\(tensor): llama.cpp \(type), ours \(ours.rawValue)") }
        }
        XCTAssertEqual(wrong, [], "\(name) \(preset)", file: file, line: line)
    }

    func testNewPresetsMatchLlamaCpp() throws {
        for (name, c) in try configs().sorted(by: { $0.key < $1.key }) {
            for preset in ["q5_k_s", "q5_k_m", "q3_k_s", "q3_k_m", "q3_k_l", "q2_k"] { try check(preset, name, c) }
        }
    }

    /// q4_k_m predates the mixes above and has llama.cpp's rules for a dense untied model only
    /// (formats/presets.md lists what it lacks).
    func testQ4_K_MMatchesLlamaCppOnADenseUntiedModel() throws {
        try check("q4_k_m", "mistral7b", try XCTUnwrap(try configs()["mistral7b"]))
    }

    /// The rules behind the fixture, spelled out for the Mistral-7B-like stack (32 layers,
    /// GQA 4): use_more_bits picks layers 0–3, 28–31 and every third from 6.
    func testUseMoreBitsLayers() throws {
        let r = try Recipe.preset("q5_k_m", layers: 32, gqa: 4)
        let more = (0..<32).filter { r.type(for: "layers.\($0).feed_forward.w2.weight", shape: [4096, 14336]).0 == .q6_k }
        XCTAssertEqual(more, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        XCTAssertEqual(try Recipe.preset("q2_k", layers: 32, gqa: 4).type(for: "layers.5.attention.wv.weight", shape: [1024, 4096]).0, .q4_k)
        XCTAssertEqual(try Recipe.preset("q2_k", layers: 30, gqa: 3).type(for: "layers.5.attention.wv.weight", shape: [192, 576]).0, .q3_k)
        XCTAssertEqual(try Recipe.preset("q3_k_m", layers: 30, gqa: 3, tiedEmbeddings: true).type(for: "tok_embeddings.weight", shape: [49152, 576]).0, .q6_k)
        XCTAssertEqual(try Recipe.preset("q3_k_m", layers: 30, gqa: 3).type(for: "tok_embeddings.weight", shape: [49152, 576]).0, .q3_k)
    }
}
