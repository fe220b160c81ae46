import Checkpoints
import Foundation
import Quantization
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

/// `export --to mlx`: Q4_0, Q4_1 and Q8_0 become MLX affine groups of 32 without requantizing.
/// The check reads the exported file's header and bytes itself and dequantizes them with MLX's
/// formula written out here (w = scale·q + bias, q the `bits`-bit field i of the row's uint32
/// words from the low bits up), against the same `.tmt` exported as f32 safetensors.
final class MLXExportTests: XCTestCase {
    /// A safetensors file read by hand: MLX's `U32` is not a type Tramontane reads as values.
    struct RawSafetensors {
        let bytes: [UInt8]
        let header: [String: JSONValue]
        let dataStart: Int

        init(_ path: String) throws {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let n = bytes.withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
            header = try XCTUnwrap(JSONParser.parse(String(decoding: bytes[8..<(8 + n)], as: UTF8.self)).objectValue)
            dataStart = 8 + n
        }

        func tensor(_ name: String) throws -> (dtype: String, shape: [Int], data: ArraySlice<UInt8>) {
            let e = try XCTUnwrap(header[name], name)
            let offs = try XCTUnwrap(e["data_offsets"]?.arrayValue?.compactMap(\.intValue))
            return (try XCTUnwrap(e["dtype"]?.stringValue), try XCTUnwrap(e["shape"]?.arrayValue?.compactMap(\.intValue)),
                    bytes[(dataStart + offs[0])..<(dataStart + offs[1])])
        }
    }

    func quantized(_ preset: String, _ dir: TempDir) throws -> String {
        let out = dir.file("\(preset).tmt")
        var o = Quantizer.Options(recipe: try Recipe.preset(preset, layers: 2))
        o.threads = 2
        o.hashSources = false
        _ = try Quantizer.quantize(Fixtures.tinyMistral("native-safetensors-bf16"), to: out, options: o)
        return out
    }

    func mlx(_ source: String, _ out: String, dtype: MLXExport.ElementType = .f16) throws -> MLXExport.Report {
        var o = MLXExport.Options()
        o.dtype = dtype
        return try MLXExport.export(source, to: out, options: o)
    }

    /// `words` (uint32 little-endian), `scales`, `biases` (f16 or f32) dequantized as MLX does.
    func dequantizeMLX(words: ArraySlice<UInt8>, scales: ArraySlice<UInt8>, biases: ArraySlice<UInt8>, scaleType: String,
                       bits: Int, rows: Int, columns: Int, groupSize: Int) -> [Float] {
        func word(_ i: Int) -> UInt32 {
            let b = words.startIndex + 4 * i
            return UInt32(words[b]) | UInt32(words[b + 1]) << 8 | UInt32(words[b + 2]) << 16 | UInt32(words[b + 3]) << 24
        }
        func float(_ s: ArraySlice<UInt8>, _ i: Int) -> Float {
            if scaleType == "F32" {
                let b = s.startIndex + 4 * i
                return Float(bitPattern: UInt32(s[b]) | UInt32(s[b + 1]) << 8 | UInt32(s[b + 2]) << 16 | UInt32(s[b + 3]) << 24)
            }
            let b = s.startIndex + 2 * i
            return Float(Float16(bitPattern: UInt16(s[b]) | UInt16(s[b + 1]) << 8))
        }
        let perWord = 32 / bits, groups = columns / groupSize
        var out: [Float] = []
        for r in 0..<rows {
            for i in 0..<columns {
                let w = word(r * columns / perWord + i / perWord)
                let q = (w >> UInt32(bits * (i % perWord))) & ((1 << UInt32(bits)) - 1)
                let g = r * groups + i / groupSize
                out.append(float(scales, g) * Float(q) + float(biases, g))
            }
        }
        return out
    }

    func testQ4_0Q4_1Q8_0MapExactly() throws {
        let dir = TempDir()
        for (preset, bits) in [("q4_0", 4), ("q4_1", 4), ("q8_0", 8)] {
            let tmt = try quantized(preset, dir)
            for dtype in [MLXExport.ElementType.f16, .f32] {
                let out = dir.file("\(preset)-mlx-\(dtype.rawValue)")
                let report = try mlx(tmt, out, dtype: dtype)
                XCTAssertTrue(report.requantized.isEmpty, preset)
                XCTAssertEqual(report.bits, bits)
                XCTAssertEqual(report.exact[preset], 16, "\(preset): 14 linear layers, the embeddings and the output")
                // The reference: the same file's values as f32, in HF's names and q/k row order.
                var o = SafetensorsExport.Options()
                o.dtype = .f32
                let f32 = dir.file("\(preset)-f32-\(dtype.rawValue)")
                _ = try SafetensorsExport.export(tmt, to: f32, options: o)
                let reference = try Checkpoint.open(f32)
                let file = try RawSafetensors(out + "/model.safetensors")
                var checked = 0
                for t in reference.tensors {
                    let base = String(t.name.dropLast(".weight".count))
                    let expected = try t.load().withBytes { Array($0.bindMemory(to: Float.self)) }
                    guard file.header[base + ".scales"] != nil else {
                        XCTAssertEqual(try file.tensor(t.name).dtype, dtype == .f16 ? "F16" : "F32", t.name)
                        continue
                    }
                    let w = try file.tensor(t.name), s = try file.tensor(base + ".scales"), b = try file.tensor(base + ".biases")
                    let (rows, columns) = (t.shape[0], t.shape[1])
                    XCTAssertEqual(w.dtype, "U32")
                    XCTAssertEqual(w.shape, [rows, columns * bits / 32])
                    XCTAssertEqual(s.shape, [rows, columns / 32])
                    XCTAssertEqual(s.dtype, dtype == .f16 ? "F16" : "F32")
                    let got = dequantizeMLX(words: w.data, scales: s.data, biases: b.data, scaleType: s.dtype, bits: bits,
                                            rows: rows, columns: columns, groupSize: 32)
                    // Bit for bit, but for the sign of zero: ggml's d·(q − 8) is −0 where d < 0 and
                    // q = 8, MLX's d·q + (−8d) is +0 there (x + 0 makes both +0).
                    XCTAssertEqual(got.count, expected.count)
                    let differing = zip(got, expected).filter { ($0 + 0).bitPattern != ($1 + 0).bitPattern }
                    XCTAssertTrue(differing.isEmpty, "\(preset) \(dtype.rawValue) \(t.name): \(differing.count) values differ, first \(differing.prefix(3))")
                    checked += 1
                }
                XCTAssertEqual(checked, 16)
                let config = try JSONParser.parse(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/config.json")), as: UTF8.self))
                XCTAssertEqual(config["quantization"]?["group_size"]?.intValue, 32)
                XCTAssertEqual(config["quantization"]?["bits"]?.intValue, bits)
                XCTAssertEqual(config["quantization"]?.objectValue?.count, 2, "one format: no per-layer entries")
                XCTAssertEqual(config["model_type"]?.stringValue, "mistral")
            }
        }
    }

    func testOtherFormatsAreRequantizedListedAndNamedPerLayer() throws {
        let dir = TempDir()
        let tmt = try quantized("q4_k_m", dir)
        let out = dir.file("mlx")
        let report = try mlx(tmt, out)
        let types = Dictionary(uniqueKeysWithValues: try Checkpoint.open(tmt).tensors.map { ($0.name, $0.dtype) })
        let kquants = types.values.filter { $0 == .q4_k || $0 == .q6_k }.count
        XCTAssertEqual(report.requantized.count, kquants)
        XCTAssertTrue(report.requantized.allSatisfy { ($0.from == "q4_k" && $0.bits == 4) || ($0.from == "q6_k" && $0.bits == 8) })
        let config = try JSONParser.parse(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/config.json")), as: UTF8.self))
        let q = try XCTUnwrap(config["quantization"]?.objectValue)
        let file = try RawSafetensors(out + "/model.safetensors")
        // Every quantized layer whose bits differ from the default is named, and only those.
        for (key, value) in file.header where key.hasSuffix(".scales") {
            let module = String(key.dropLast(".scales".count))
            let w = try file.tensor(module + ".weight")
            let bits = 32 * w.shape[1] / (try file.tensor(key).shape[1] * 32)
            if bits == q["bits"]?.intValue { XCTAssertNil(q[module], module) } else { XCTAssertEqual(q[module]?["bits"]?.intValue, bits, module) }
            XCTAssertEqual(value["dtype"]?.stringValue, "F16")
        }
        // With f32 scales Q4_K maps exactly: only the Q6_K tensors are requantized.
        let f32 = try mlx(tmt, dir.file("mlx-f32"), dtype: .f32)
        XCTAssertEqual(f32.exact["q4_k"], types.values.filter { $0 == .q4_k }.count)
        XCTAssertTrue(f32.requantized.allSatisfy { $0.from == "q6_k" && $0.bits == 8 })
        XCTAssertEqual(f32.requantized.count, types.values.filter { $0 == .q6_k }.count)
    }

    func testMLXLMLogitsOfTheExportMatchTramontane() throws {
        // mlx-lm ran the MLX export (f32 scales) of this very file: scripts/fixtures/mlx_tiny_logits.sh.
        // Equal logits mean it read the packed words, scales, biases and q/k order as meant.
        let dir = TempDir()
        let tmt = dir.file("q4_0.tmt")
        var o = Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 2))
        o.mode = .reference
        o.threads = 2
        o.hashSources = false
        _ = try Quantizer.quantize(Fixtures.tinyMistral("native-safetensors-bf16"), to: tmt, options: o)
        let model = try Validator.load(tmt, threads: 2)
        model.quantizedActivations = false
        let results = try Validator.againstLogits(model: model, file: Fixtures.root.appendingPathComponent("tiny-mistral/mlx-q4_0-logits.safetensors").path)
        XCTAssertEqual(results.map(\.name), ["eval"])
        for r in results {
            XCTAssertEqual(r.tokens, 16, "no more than the window: mlx-lm runs it as full attention")
            XCTAssertLessThan(r.maxAbsLogitDiff, 1e-4, r.name)
            XCTAssertEqual(r.top1Agreement, 1, r.name)
        }
    }

    func testAFloatModelIsAPlainMLXModel() throws {
        let dir = TempDir()
        let tmt = dir.file("bf16.tmt")
        _ = try Converter.convert(Fixtures.tinyMistral("hf-sharded-bf16"), to: tmt, options: Converter.Options())
        let report = try mlx(tmt, dir.file("mlx"))
        XCTAssertTrue(report.exact.isEmpty && report.requantized.isEmpty)
        let config = try JSONParser.parse(String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir.file("mlx") + "/config.json")), as: UTF8.self))
        XCTAssertNil(config["quantization"])
        let file = try RawSafetensors(dir.file("mlx") + "/model.safetensors")
        XCTAssertEqual(file.header.count, 22, "21 tensors and __metadata__")
        XCTAssertTrue(file.header.filter { $0.key != "__metadata__" }.allSatisfy { $0.value["dtype"]?.stringValue == "F16" })
    }

    func testTheF16BiasesAreExactBelowOverflow() {
        // Every finite f16 scale d: −8d (Q4_0) and −128d (Q8_0) are f16 values themselves unless
        // they pass f16's largest finite value, 65504 (d above 8188, or above 511.75).
        for bits in UInt16.min...UInt16.max {
            let d = Float(Float16(bitPattern: bits))
            guard d.isFinite else { continue }
            for k: Float in [8, 128] {
                let b = -k * d
                if abs(b) <= 65504 { XCTAssertEqual(Float(Float16(b)), b, "d = \(d), k = \(k)") }
                else { XCTAssertTrue(Float16(b).isInfinite) }
            }
        }
    }
}
