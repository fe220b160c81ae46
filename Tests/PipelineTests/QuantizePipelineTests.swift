import Checkpoints
import Foundation
import ModelFile
import Quantization
import TensorCore
import TestSupport
import XCTest
@testable import Pipeline

final class QuantizePipelineTests: XCTestCase {
    func testPresetRulesAndPlan() throws {
        let model = try Checkpoint.open(Fixtures.tinyMistral("hf-safetensors-f32")).native()
        var recipe = try Recipe.preset("q4_k_m", layers: 8)
        // llama.cpp's use_more_bits for 8 layers: 0, 3, 6, 7.
        XCTAssertEqual(recipe.rules.map(\.description).last, #"^layers\.(0|3|6|7)\.(attention\.wv|feed_forward\.w2)\.weight$=q6_k"#)
        recipe = try Recipe.preset("q4_0", layers: 2)
        recipe.rules = [try Recipe.Rule(parsing: #"attention\.w[qk]=q8_0"#)]
        let plan = try Quantizer.plan(model, source: "x", options: Quantizer.Options(recipe: recipe))
        let types = Dictionary(uniqueKeysWithValues: plan.tensors.map { ($0.name, $0.type) })
        XCTAssertEqual(types["layers.0.attention.wq.weight"], "q8_0")
        XCTAssertEqual(types["layers.1.attention.wk.weight"], "q8_0")
        XCTAssertEqual(types["layers.1.attention.wv.weight"], "q4_0")
        XCTAssertEqual(types["norm.weight"], "f32")
        XCTAssertEqual(plan.bytes, plan.tensors.reduce(0) { $0 + $1.bytes })
        XCTAssertThrowsError(try Recipe.Rule(parsing: "foo"))
        XCTAssertThrowsError(try Recipe.Rule(parsing: "(=q4_0"))
        XCTAssertThrowsError(try Recipe.Rule(parsing: "x=q3_z"))
    }

    /// `quantize --type PRESET --rule … --imatrix FILE` as one call: the preset is chosen for the
    /// checkpoint's shape once it is open, the rules go before the preset's, and the importance
    /// matrix is read from its path, as the explicit recipe and matrix would give.
    func testPresetChosenForTheOpenedModel() throws {
        let source = Fixtures.tinyMistral("hf-safetensors-f32")
        let dir = TempDir()
        let model = try Checkpoint.open(source).native()
        let imatrix = try ImportanceMatrix.collect(model: try Validator.load(source, threads: 2), tokens: (0..<64).map { 3 + $0 * 7 % 1000 },
                                                   ctx: 32, chunks: 2, bos: 1)
        let matrixPath = dir.file("imatrix.safetensors")
        try imatrix.write(to: try OutputTarget(matrixPath))
        var byName = Quantizer.Options(preset: "q4_k_m", rules: [#"attention\.wq=q8_0"#])
        byName.imatrixPath = matrixPath
        byName.threads = 2
        var recipe = try Recipe.preset("q4_k_m", for: model.config, imatrix: true)
        recipe.rules.insert(try Recipe.Rule(parsing: #"attention\.wq=q8_0"#), at: 0)
        var explicit = Quantizer.Options(recipe: recipe)
        explicit.imatrix = imatrix
        explicit.imatrixPath = matrixPath
        explicit.threads = 2

        let planned = try Quantizer.plan(source, options: byName)
        XCTAssertEqual(planned.rules.first, #"attention\.wq=q8_0"#)
        XCTAssertEqual(planned.rules, recipe.rules.map(\.description))
        XCTAssertEqual(planned.tensors.first { $0.name == "layers.1.attention.wq.weight" }?.type, "q8_0")
        XCTAssertEqual(planned.tensors.map(\.type), try Quantizer.plan(model, source: source, options: explicit).tensors.map(\.type))

        _ = try Quantizer.quantize(source, to: dir.file("a.tmt"), options: byName)
        _ = try Quantizer.quantize(source, to: dir.file("b.tmt"), options: explicit)
        let a = try Inspector.inspect(dir.file("a.tmt"), hash: true), b = try Inspector.inspect(dir.file("b.tmt"), hash: true)
        XCTAssertEqual(a.tensors.map(\.sha256), b.tensors.map(\.sha256))
        let q = try TMTFile(path: dir.file("a.tmt")).metadata["provenance"]?["quantization"]
        XCTAssertEqual(q?["recipe"]?.stringValue, "q4_k_m")
        XCTAssertEqual(q?["imatrix"]?["path"]?.stringValue, matrixPath)

        var missing = byName
        missing.imatrixPath = dir.file("none.safetensors")
        XCTAssertThrowsError(try Quantizer.plan(source, options: missing))
        XCTAssertThrowsError(try Quantizer.plan(source, options: Quantizer.Options(preset: "q9_9")))
    }

    func testQuantizedFileRoundTripsWithReport() throws {
        let dir = TempDir()
        // Relative-error budgets for this model's weights (it has outlier input channels, x8).
        for (preset, budget, cosine) in [("q8_0", 0.015, 0.9999), ("q6_k", 0.05, 0.998), ("q4_k_m", 0.17, 0.985), ("q4_0", 0.2, 0.98)] {
            let out = dir.file("\(preset).tmt")
            var o = Quantizer.Options(recipe: try Recipe.preset(preset, layers: 2))
            o.report = true
            o.threads = 2
            let plan = try Quantizer.quantize(Fixtures.tinyMistral("native-safetensors-bf16"), to: out, options: o)
            for e in plan.tensors where e.type != "f32" {
                XCTAssertLessThan(try XCTUnwrap(e.relativeError), budget, "\(preset) \(e.name)")
                XCTAssertGreaterThan(try XCTUnwrap(e.cosine), cosine, "\(preset) \(e.name)")
            }
            let tmt = try TMTFile(path: out)
            XCTAssertNoThrow(try tmt.verify())
            XCTAssertEqual(tmt.metadata["provenance"]?["quantization"]?["recipe"]?.stringValue, preset)
            // The model's rows are 64 wide: k-quant rows are all tail blocks, and the directory says so.
            for item in tmt.tensors {
                let expected: DType? = item.dtype == .q4_k ? .q4_1 : item.dtype == .q6_k ? .q8_0 : nil
                XCTAssertEqual(item.tail, expected, "\(preset) \(item.name)")
            }
            let inspected = try Inspector.inspect(out, hash: true)
            XCTAssertEqual(inspected.tensors.count, 21)
            XCTAssertEqual(Int(inspected.bitsPerWeight * 1000), Int(plan.bitsPerWeight * 1000), preset)
            // The file decodes to what the report measured.
            let w = try XCTUnwrap(Checkpoint.open(out).native().tensor("layers.0.feed_forward.w1.weight"))
            XCTAssertEqual(w.dtype.rawValue, plan.tensors.first { $0.name == w.name }?.type)
        }
    }

    func testSmolLM2RowsOf576GetKQuantsWithTails() throws {
        let gguf = try Fixtures.smolLM2()
        let model = try Checkpoint.open(gguf).native()
        let plan = try Quantizer.plan(model, source: gguf, options: Quantizer.Options(recipe: try Recipe.preset("q4_k", layers: 30)))
        let wq = try XCTUnwrap(plan.tensors.first { $0.name == "layers.0.attention.wq.weight" })
        XCTAssertEqual(wq.type, "q4_k")
        XCTAssertEqual(wq.bytes, 576 * (2 * 144 + 2 * 20))
        XCTAssertLessThan(plan.bitsPerWeight, 4.6)
    }

    /// Tensors are quantized in batches (one parallel region and one write per batch): a batch
    /// stops before it would pass the limit, keeps the plan's order, and the file holds exactly
    /// what quantizing each tensor alone gives — here from BF16, so values are decoded per batch.
    func testBatchedFileEqualsTensorByTensor() throws {
        let source = Fixtures.tinyMistral("native-safetensors-bf16")
        let checkpoint = try Checkpoint.open(source)
        let model = try checkpoint.native()
        var o = Quantizer.Options(recipe: try Recipe.preset("q4_k_m", layers: 2))
        o.threads = 2
        let plan = try Quantizer.plan(model, source: source, options: o)
        let byName = Dictionary(uniqueKeysWithValues: model.tensors.map { ($0.name, $0) })
        let limit = 40_000
        let batches = try TensorBatch.batches(plan.tensors, byName: byName, limit: limit)
        XCTAssertGreaterThan(batches.count, 2, "the tiny model makes several batches at this limit")
        let entries = batches.flatMap { $0.pieces.map(\.entry) }
        XCTAssertEqual(entries.enumerated().filter { $0.offset == 0 || entries[$0.offset - 1] != $0.element }.map(\.element),
                       Array(plan.tensors.indices), "every tensor, in order (the 65K-weight embeddings in two slices)")
        for b in batches {
            XCTAssertLessThanOrEqual(b.weights, limit)
            for (m, next) in zip(b.pieces, b.pieces.dropFirst()) { XCTAssertLessThanOrEqual(m.offset + m.bytes, next.offset) }
        }
        // An empty tensor is one empty piece, and encoding it writes nothing and does not throw.
        let empty = SourceTensor(name: "layers.0.attention.wq.weight", dtype: .f32, shape: [4, 0], origin: "test") { try ByteRegion.copying(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let entry = Quantizer.Entry(name: empty.name, shape: empty.shape, source: "f32", type: "q4_0", reason: "test", bytes: 0, bitsPerWeight: 0)
        let lone = try TensorBatch.batches([entry], byName: [empty.name: empty]).flatMap(\.pieces)
        XCTAssertEqual(lone.map(\.bytes), [0])
        XCTAssertTrue(lone[0].isFirst && lone[0].isLast)
        XCTAssertNoThrow(try EncodeJobs(options: o).add(UnsafeBufferPointer(start: nil, count: 0), name: empty.name, shape: [4, 0], columns: 0,
                                                        type: .q4_0, into: UnsafeMutableRawBufferPointer(start: nil, count: 0)))
        // At a limit below a tensor's size, its rows are cut into consecutive slices.
        let cut = try TensorBatch.batches(plan.tensors, byName: byName, limit: 1000).flatMap(\.pieces)
        for entry in plan.tensors.indices {
            let parts = cut.filter { $0.entry == entry }
            XCTAssertEqual(parts.first?.rows.lowerBound, 0)
            XCTAssertEqual(parts.last?.rows.upperBound, parts.first?.totalRows)
            for (a, b) in zip(parts, parts.dropFirst()) { XCTAssertEqual(a.rows.upperBound, b.rows.lowerBound) }
        }
        let dir = TempDir()
        let out = dir.file("batched.tmt"), sliced = dir.file("sliced.tmt")
        o.report = true
        let whole = try Quantizer.quantize(checkpoint, model, source: source, to: out, options: o)
        // Slices of 3 rows of 64 (every matrix in pieces, batches mixing pieces of two tensors):
        // the same tensors, and --report's sums over pieces give the same figures.
        o.batchWeights = 3 * 64
        let pieces = try Quantizer.quantize(checkpoint, model, source: source, to: sliced, options: o)
        for (a, b) in zip(whole.tensors, pieces.tensors) {
            XCTAssertEqual(try XCTUnwrap(a.rmse), try XCTUnwrap(b.rmse), accuracy: 1e-9 + 1e-6 * (a.rmse ?? 0), a.name)
            XCTAssertEqual(try XCTUnwrap(a.cosine), try XCTUnwrap(b.cosine), accuracy: 1e-9, a.name)
        }
        let written = try Checkpoint.open(out), slicedFile = try Checkpoint.open(sliced)
        for e in plan.tensors {
            let t = try XCTUnwrap(byName[e.name]), type = try XCTUnwrap(DType(rawValue: e.type))
            let values = try Quantizer.floats(t, try t.load(), columns: t.shape.last ?? 1)
            let alone = try values.withUnsafeBufferPointer {
                try Quantizer.encode($0, name: t.name, shape: t.shape, columns: t.shape.last ?? 1, type: type, options: o)
            }
            let stored = try XCTUnwrap(written.tensors.first { $0.name == e.name }).load()
            XCTAssertEqual(stored.array, alone.array, e.name)
            XCTAssertEqual(try XCTUnwrap(slicedFile.tensors.first { $0.name == e.name }).load().array, alone.array, "sliced \(e.name)")
        }
    }
    /// `--report` reads each batch's values after the write job has been handed the batch. From a
    /// Hugging Face f32 checkpoint the q/k values live in recycled un-permuted copies, which the
    /// write job used to release first: the report then read freed memory (a crash about one run
    /// in three). Many runs, each report checked against the written file.
    func testReportFromRecycledSourcesIsStable() throws {
        let source = Fixtures.tinyMistral("hf-safetensors-f32")
        let dir = TempDir()
        var o = Quantizer.Options(recipe: try Recipe.preset("q4_0", layers: 2))
        o.report = true
        o.threads = 2
        o.hashSources = false
        let out = dir.file("r.tmt")
        let first = try Quantizer.quantize(source, to: out, options: o)
        // The first run's figures, recomputed from the file it wrote and the source.
        let native = try Checkpoint.open(source).native(), written = try Checkpoint.open(out)
        for e in first.tensors where e.type != "f32" {
            let t = try XCTUnwrap(native.tensor(e.name)), columns = t.shape.last ?? 1
            let x = try Quantizer.floats(t, try t.load(), columns: columns)
            let stored = try XCTUnwrap(written.tensors.first { $0.name == e.name })
            var y = [Float](repeating: 0, count: x.count)
            try stored.load().withBytes { b in
                try y.withUnsafeMutableBufferPointer { try Dequantize.toFloat(b, dtype: stored.dtype, into: $0, columns: columns) }
            }
            let se = zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            XCTAssertEqual(try XCTUnwrap(e.rmse), (se / Double(x.count)).squareRoot(), accuracy: 1e-9, e.name)
        }
        for run in 0..<40 {
            let again = try Quantizer.quantize(source, to: dir.file("r\(run).tmt"), options: o)
            XCTAssertEqual(again.tensors.map(\.rmse), first.tensors.map(\.rmse), "run \(run)")
            XCTAssertEqual(again.tensors.map(\.cosine), first.tensors.map(\.cosine), "run \(run)")
        }
    }
}
