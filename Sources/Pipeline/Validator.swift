import Checkpoints
import Foundation
import Inference
import TensorCore

/// `tramontane validate`: measures what quantization cost, against the unquantized model or
/// against logits computed by another program.
public enum Validator {
    /// Loads any readable model file for the reference forward pass.
    public static func load(_ path: String, threads: Int) throws -> Transformer {
        try load(try Checkpoint.open(path), threads: threads)
    }

    /// The same for a checkpoint the caller has opened.
    public static func load(_ checkpoint: Checkpoint, threads: Int) throws -> Transformer {
        try Transformer(weights: try ModelWeights(try checkpoint.native()), threads: threads)
    }

    /// llama-perplexity's protocol: chunks of `ctx` tokens, BOS first, score the second half.
    public static func compare(model: Transformer, base: Transformer, tokens: [Int], ctx: Int, chunks: Int?, bos: Int?,
                               progress: ProgressReporter = SilentProgress()) throws -> QualityAccumulator.Summary {
        try measure(model: model, base: base, tokens: tokens, ctx: ctx, chunks: chunks, bos: bos, progress: progress).summary
    }

    /// What `compare` measures, and the time the model's own forward passes took (the base's
    /// left out): its prompt-processing speed over the evaluated chunks, for the ladder's table.
    public struct Measurement: Sendable {
        public var summary: QualityAccumulator.Summary
        public var modelTokens: Int
        public var modelSeconds: Double
        public var promptTokensPerSecond: Double { Double(modelTokens) / max(modelSeconds, 1e-9) }
    }

    /// The base's logits over the scored rows of each chunk, kept between comparisons of several
    /// models against one base over the same tokens (the ladder's rungs), so the base runs once.
    /// Holds chunks × ctx/2 × vocabulary floats (SmolLM2, 8 chunks of 512: 400 MB).
    public final class BaseLogits {
        var chunks: [Int: [Float]] = [:]
        let tokens: [Int], ctx: Int
        public init(tokens: [Int], ctx: Int) {
            self.tokens = tokens
            self.ctx = ctx
        }
    }

    /// `baseLogits` (made for the same tokens and ctx) keeps the base's logits between calls.
    public static func measure(model: Transformer, base: Transformer, tokens: [Int], ctx: Int, chunks: Int?, bos: Int?,
                               baseLogits: BaseLogits? = nil, progress: ProgressReporter = SilentProgress()) throws -> Measurement {
        if let baseLogits, baseLogits.tokens != tokens || baseLogits.ctx != ctx {
            throw ValidationFailure.invalid("the kept base logits are for other tokens or another ctx")
        }
        guard ctx >= 8 else { throw ValidationFailure.invalid("--ctx must be at least 8") }
        guard model.config.vocabSize == base.config.vocabSize else {
            throw ValidationFailure.invalid("the models' vocabularies differ (\(model.config.vocabSize) vs \(base.config.vocabSize))")
        }
        let available = tokens.count / ctx
        let n = min(chunks ?? available, available)
        guard n > 0 else { throw ValidationFailure.invalid("\(tokens.count) tokens do not fill one chunk of \(ctx); give more text or a smaller --ctx") }
        var acc = QualityAccumulator()
        var modelSeconds = 0.0
        let vocab = model.config.vocabSize
        for c in 0..<n {
            progress.update(done: c, total: n, label: "chunk \(c + 1)/\(n)")
            var chunk = Array(tokens[(c * ctx)..<((c + 1) * ctx)])
            if let bos { chunk[0] = bos }
            let started = Date()
            let lm = try model.forward(chunk, cache: model.makeCache(capacity: ctx))
            modelSeconds += Date().timeIntervalSince(started)
            // The base's rows for the scored positions ctx/2 ..< ctx-1, first of the slice at 0.
            let scored = (ctx / 2)..<(ctx - 1)
            let lb: [Float]
            if let kept = baseLogits?.chunks[c] {
                lb = kept
            } else {
                lb = Array(try base.forward(chunk, cache: base.makeCache(capacity: ctx))[(scored.lowerBound * vocab)..<(scored.upperBound * vocab)])
                baseLogits?.chunks[c] = lb
            }
            lm.withUnsafeBufferPointer { m in lb.withUnsafeBufferPointer { b in
                for j in scored {
                    let rows = (j * vocab)..<((j + 1) * vocab)
                    let baseRows = ((j - scored.lowerBound) * vocab)..<((j - scored.lowerBound + 1) * vocab)
                    acc.add(model: UnsafeBufferPointer(rebasing: m[rows]), base: UnsafeBufferPointer(rebasing: b[baseRows]), next: chunk[j + 1])
                }
            } }
        }
        progress.finish(label: "")
        return Measurement(summary: acc.summary, modelTokens: n * ctx, modelSeconds: modelSeconds)
    }

    public struct SequenceResult: Codable, Sendable {
        public var name: String
        public var tokens: Int
        public var maxAbsLogitDiff: Double
        public var meanKLD: Double
        public var top1Agreement: Double
        enum CodingKeys: String, CodingKey {
            case name, tokens
            case maxAbsLogitDiff = "max_abs_logit_diff", meanKLD = "mean_kld", top1Agreement = "top1_agreement"
        }
    }

    /// Compares with logits from another program: `NAME.input_ids` / `NAME.logits` pairs in
    /// one safetensors file (other tensors are ignored).
    public static func againstLogits(model: Transformer, file: String) throws -> [SequenceResult] {
        let tensors = try Safetensors.read(MappedFile(path: file)).tensors
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
        var results: [SequenceResult] = []
        for t in tensors where t.name.hasSuffix(".input_ids") {
            let name = String(t.name.dropLast(".input_ids".count))
            guard let lt = byName["\(name).logits"] else { continue }
            let ids = try integers(t)
            let vocab = model.config.vocabSize
            guard lt.dtype == .f32, lt.shape == [ids.count, vocab] else {
                throw ValidationFailure.invalid("\(name).logits has shape \(lt.shape) (\(lt.dtype.rawValue)); expected f32 [\(ids.count), \(vocab)]")
            }
            let ours = try model.forward(ids, cache: model.makeCache(capacity: max(ids.count, 1)))
            var acc = QualityAccumulator()
            var maxDiff: Float = 0
            try lt.load().withBytes { b in
                let ref = b.bindMemory(to: Float.self)
                for i in 0..<ours.count { maxDiff = max(maxDiff, abs(ours[i] - ref[i])) }
                ours.withUnsafeBufferPointer { m in
                    for j in 0..<ids.count {
                        let rows = (j * vocab)..<((j + 1) * vocab)
                        acc.add(model: UnsafeBufferPointer(rebasing: m[rows]), base: UnsafeBufferPointer(rebasing: ref[rows]), next: j + 1 < ids.count ? ids[j + 1] : ids[j])
                    }
                }
            }
            let s = acc.summary
            results.append(SequenceResult(name: name, tokens: ids.count, maxAbsLogitDiff: Double(maxDiff), meanKLD: s.meanKLD, top1Agreement: s.top1Agreement))
        }
        guard !results.isEmpty else { throw ValidationFailure.invalid("\(file) holds no NAME.input_ids / NAME.logits pairs") }
        return results
    }

    static func integers(_ t: SourceTensor) throws -> [Int] {
        try t.load().withBytes { b in
            switch t.dtype {
            case .i32: return (0..<t.elementCount).map { Int(b.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
            case .i64: return (0..<t.elementCount).map { Int(b.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            default: throw ValidationFailure.invalid("\(t.name) is \(t.dtype.rawValue); token ids must be i32 or i64")
            }
        }
    }

    /// Token ids from a text file: integers separated by commas, spaces or newlines.
    public static func readTokenFile(_ path: String) throws -> [Int] {
        let text = try TextFile.read(path)
        return try text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map { s in
            guard let v = Int(s), v >= 0 else { throw ValidationFailure.invalid("\(path): \"\(s)\" is not a token id") }
            return v
        }
    }
}

public enum ValidationFailure: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String { if case .invalid(let s) = self { return s }; return "" }
}
