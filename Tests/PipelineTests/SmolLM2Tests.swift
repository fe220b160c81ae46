import Checkpoints
import Foundation
import ModelFile
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

/// The real SmolLM2-135M GGUF (Q4_1 + Q8_0 + F32), fetched by scripts/fetch-models.sh.
final class SmolLM2Tests: XCTestCase {
    func testGGUFInspectsAndConvertsWithItsTokenizer() throws {
        let gguf = try Fixtures.smolLM2()
        let r = try Inspector.inspect(gguf, hash: false)
        XCTAssertEqual(r.format, "gguf")
        XCTAssertEqual(r.layout, "gguf")
        let c = try XCTUnwrap(r.config)
        XCTAssertEqual([c.dim, c.nLayers, c.nHeads, c.nKVHeads, c.headDim, c.hiddenDim, c.vocabSize], [576, 30, 9, 3, 64, 1536, 49152])
        XCTAssertEqual(c.ropeTheta, 100_000)
        XCTAssertNil(c.slidingWindow)
        XCTAssertTrue(c.tieEmbeddings)
        XCTAssertEqual(r.tensors.first { $0.name == "layers.0.attention.wq.weight" }?.dtype, "q4_1")
        XCTAssertEqual(r.tensors.first { $0.name == "tok_embeddings.weight" }?.dtype, "q8_0")
        XCTAssertEqual(r.tensors.first { $0.name == "output.weight" }?.tiedTo, "tok_embeddings.weight")
        XCTAssertEqual(r.parameters, 134_515_008)

        let dir = TempDir()
        let out = dir.file("smollm2.tmt")
        let report = try Converter.convert(gguf, to: out, options: Converter.Options())
        XCTAssertEqual(report.tensors, 272, "273 native tensors less the tied output")
        let tmt = try TMTFile(path: out)
        XCTAssertNil(tmt.tensor(named: "output.weight"))
        let blob = try XCTUnwrap(tmt.blob(named: "tokenizer/gguf-tokenizer.json"))
        let tok = try tmt.data(of: blob).withBytes { try JSONParser.parse($0) }
        XCTAssertEqual(tok["tokenizer.ggml.tokens"]?.arrayValue?.count, 49152)
        XCTAssertEqual(tok["tokenizer.ggml.model"]?.stringValue, "gpt2")
        XCTAssertNotNil(tok["tokenizer.ggml.merges"]?.arrayValue)
        XCTAssertEqual(tmt.metadata["tokenizer"]?["kinds"]?["gguf-tokenizer.json"]?.stringValue, "gguf-metadata")

        // Same values (dequantized) through the GGUF and through the .tmt, for a few tensors.
        let fromGGUF = try Checkpoint.open(gguf).native(), fromTMT = try Checkpoint.open(out).native()
        for name in ["tok_embeddings.weight", "layers.7.attention.wk.weight", "layers.29.feed_forward.w2.weight", "norm.weight", "output.weight"] {
            XCTAssertEqual(try TensorValues.sha256(XCTUnwrap(fromGGUF.tensor(name))), try TensorValues.sha256(XCTUnwrap(fromTMT.tensor(name))), name)
        }
        XCTAssertEqual(fromTMT.config, fromGGUF.config)

        // The tokenizer travels inside the .tmt: same ids, and the greedy ids decode to the
        // text transformers generated.
        struct Readme: Decodable { let prompt: String; let greedy_text: String }
        let readme = try JSONDecoder().decode(Readme.self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("smollm2/README.json")))
        let fromFile = try TokenizerLoader.load(path: out), fromGGUFTok = try TokenizerLoader.load(path: gguf)
        XCTAssertEqual(fromFile.encode(readme.prompt), fromGGUFTok.encode(readme.prompt))
        XCTAssertEqual(fromFile.encode(readme.prompt), [504, 3575, 282, 4649, 314])
        let greedy = [7042, 30, 198, 198, 504, 2988, 314, 42, 216, 34, 32, 33, 40, 29, 32, 33, 29, 34, 34, 216, 33, 34, 42, 33]  // prompt.greedy_ids of reference-logits.safetensors
        XCTAssertEqual(fromFile.decode(greedy), readme.greedy_text)
    }
}
