import Checkpoints
import Foundation
import Inference
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

/// The GGUF export run by llama.cpp: `Tests/Fixtures/tiny-mistral/llamacpp-logits.safetensors`
/// holds the logits llama.cpp computed on tiny-mistral exported by `tramontane export`
/// (scripts/fixtures/llamacpp-logits.sh, f32 weights and KV cache). Tramontane's run of the same
/// `.tmt` must match them — with the window switched off, since llama.cpp's `llama`
/// architecture reads no sliding window and attends to every earlier position.
final class LlamaCppLogitsTests: XCTestCase {
    /// Largest |Δlogit| allowed: both engines run f32 weights and caches; what remains is
    /// summation order (logits here are of order 1).
    static let tolerance: Float = 1e-4

    func testExportRunByLlamaCppMatchesTramontane() throws {
        let fixture = Fixtures.root.appendingPathComponent("tiny-mistral/llamacpp-logits.safetensors").path
        let ref = try ReferenceFile.read(fixture)
        let dir = TempDir()
        let tmt = dir.file("tiny.tmt")
        var o = Converter.Options()
        o.hashSources = false
        _ = try Converter.convert(Fixtures.tinyMistral("hf-safetensors-f32"), to: tmt, options: o)
        // The export the fixture was made from: the same tensors today.
        _ = try GGUFExport.export(tmt, to: dir.file("tiny.gguf"), options: GGUFExport.Options())

        var model = try Checkpoint.open(tmt).native()
        let windowed = try Transformer(weights: try ModelWeights(model), threads: 2)
        model.config.slidingWindow = nil
        let full = try Transformer(weights: try ModelWeights(model), threads: 2)
        let fromGGUF = try Transformer(weights: try ModelWeights(try Checkpoint.open(dir.file("tiny.gguf")).native()), threads: 2)
        let vocab = model.config.vocabSize
        for name in ["random", "text"] {
            let ids = try XCTUnwrap(ref.ints["\(name).input_ids"])
            let expected = try XCTUnwrap(ref.floats["\(name).logits"])
            XCTAssertEqual(expected.count, ids.count * vocab)
            let ours = try full.forward(ids, cache: full.makeCache())
            XCTAssertLessThanOrEqual(maxAbsDiff(ours, expected), Self.tolerance, name)
            // Tramontane running the GGUF (with the window its key gives) equals running the .tmt.
            let w = try windowed.forward(ids, cache: windowed.makeCache())
            XCTAssertEqual(try fromGGUF.forward(ids, cache: fromGGUF.makeCache()), w, name)
            // With the window, the first 16 positions agree with llama.cpp and later ones do not.
            let head = 16 * vocab
            XCTAssertLessThanOrEqual(maxAbsDiff(Array(w[..<head]), Array(expected[..<head])), Self.tolerance, name)
            if ids.count > 17 { XCTAssertGreaterThan(maxAbsDiff(Array(w[head...]), Array(expected[head...])), 100 * Self.tolerance, name) }
        }
    }

    func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}

/// f32 and integer tensors of a safetensors file, by name.
enum ReferenceFile {
    static func read(_ path: String) throws -> (floats: [String: [Float]], ints: [String: [Int]]) {
        var floats: [String: [Float]] = [:], ints: [String: [Int]] = [:]
        for t in try Safetensors.read(MappedFile(path: path)).tensors {
            try t.load().withBytes { b in
                switch t.dtype {
                case .f32: floats[t.name] = (0..<t.elementCount).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
                case .i64: ints[t.name] = (0..<t.elementCount).map { Int(b.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
                case .i32: ints[t.name] = (0..<t.elementCount).map { Int(b.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
                default: break
                }
            }
        }
        return (floats, ints)
    }
}
