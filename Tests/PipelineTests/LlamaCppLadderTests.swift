import Foundation
@testable import Pipeline
import TestSupport
import XCTest

/// The llama.cpp side of the ladder against stand-ins for its two tools that print what the
/// real ones print (the lines `LlamaCppLadder` reads: the loader's "file size … BPW" and
/// perplexity's "Mean    KLD:"), so the flow and the parsing are tested without llama.cpp.
final class LlamaCppLadderTests: XCTestCase {
    func tool(_ dir: TempDir, _ name: String, _ body: String) throws {
        let p = dir.write(name, Array("#!/bin/bash\n\(body)\n".utf8))
        XCTAssertEqual(chmod(p, 0o755), 0)
    }

    final class Lines: LadderObserver {
        var lines: [String] = []
        func step(_ index: Int, of total: Int, _ message: String) { lines.append(message) }
        func progress(_ title: String) -> ProgressReporter { SilentProgress() }
    }

    func testQuantizesEachPresetAndReadsItsKLD() throws {
        let tools = TempDir(), out = TempDir()
        // llama-quantize [flags] IN OUT TYPE THREADS: writes OUT (not a GGUF: the BPW then
        // comes from its log, as llama-quantize prints it); knows no Q9_9.
        try tool(tools, "llama-quantize", """
            type="${@: -2:1}"; out="${@: -3:1}"
            [ "$type" = "Q9_9" ] && { echo "invalid type" >&2; exit 1; }
            echo "$* " > "$out"
            bpw=32.00
            [ "$1" = "--pure" ] && bpw=4.55
            [ "$type" = "Q8_0" ] && bpw=8.50
            echo "llama_model_quantize_impl: model size  =    92.10 MiB (5.74 BPW)"
            echo "llama_model_quantize_impl: quant size  =    1.00 MiB ($bpw BPW)"
            """)
        // llama-perplexity: a KLD only in --kl-divergence mode.
        try tool(tools, "llama-perplexity", """
            echo "0.30.995.302 I Final estimate: PPL = 7.8885 +/- 1.36103"
            case " $* " in *" --kl-divergence "*) echo "Mean    KLD:   0.012345 ±   0.000100";; esac
            """)
        let observer = Lines()
        var steps = Ladder.Steps(total: 4, observer: observer)
        let rows = try LlamaCppLadder.run(tools: tools.path, source: "/nowhere/model.gguf", presets: ["q8_0", "q4_k", "q9_9"],
                                          evaluationText: "some text", ctx: 64, chunks: 2, directory: out.path, threads: 1, steps: &steps)
        XCTAssertEqual(rows.map(\.type), ["q8_0", "q4_k"], "a preset llama.cpp lacks is left out")
        XCTAssertEqual(rows.map(\.llamaType), ["Q8_0", "--pure Q4_K_S"])
        XCTAssertEqual(rows.map(\.bitsPerWeight), [8.5, 4.55])
        XCTAssertEqual(rows.map(\.meanKLD), [0.012345, 0.012345])
        XCTAssertEqual(observer.lines.count, 4)
        XCTAssertTrue(observer.lines[3].contains("no q9_9"), observer.lines[3])
        XCTAssertEqual(try String(contentsOfFile: out.file("llama.cpp/evaluation.txt"), encoding: .utf8), "some text")
    }

    /// Counted as llama-quantize counts it: it reports the SmolLM2 GGUF as "92.10 MiB (5.74 BPW)".
    func testBitsPerWeightOfAGGUFAsLlamaCppCountsThem() throws {
        let bpw = try XCTUnwrap(LlamaCppLadder.bitsPerWeight(gguf: try Fixtures.smolLM2()))
        XCTAssertEqual(bpw, 5.74, accuracy: 0.005)
    }

    func testRefusals() throws {
        let tools = TempDir()
        XCTAssertThrowsError(try LlamaCppLadder.check(tools: tools.path, source: "model.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("needs a GGUF source"), "\(e)")
        }
        XCTAssertThrowsError(try LlamaCppLadder.check(tools: tools.path, source: "model.gguf")) { e in
            XCTAssertTrue("\(e)".contains("llama-quantize is missing"), "\(e)")
        }
        XCTAssertEqual(LlamaCppLadder.number(after: "Mean    KLD:", in: "x\nMean    KLD:   0.055123 ±   0.0012\n"), 0.055123)
        XCTAssertEqual(LlamaCppLadder.number(before: " BPW)", in: "file size   = 77.26 MiB (4.89 BPW) \n"), 4.89)
        XCTAssertNil(LlamaCppLadder.number(after: "Mean    KLD:", in: "nothing"))
    }
}
