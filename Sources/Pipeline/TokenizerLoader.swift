import Checkpoints
import Foundation
import TensorCore
import Tokenizers

/// Finds and builds the tokenizer that travels with a model: GGUF metadata (from a GGUF or
/// embedded in a `.tmt`), or a tokenizer file beside a checkpoint.
public enum TokenizerLoader {
    public static func load(_ checkpoint: Checkpoint) throws -> any Tokenizer {
        if let g = checkpoint.tokenizers.first(where: { $0.kind == "gguf-metadata" }) {
            return try ByteLevelBPE(ggufMetadata: try g.load().withBytes { try JSONParser.parse($0) })
        }
        if let t = checkpoint.tokenizers.first(where: { $0.kind == "tekken" }) {
            return try t.load().withBytes { try Tekken(json: $0) }
        }
        if let hf = checkpoint.tokenizers.first(where: { $0.kind == "hf-tokenizer-json" }) {
            return try hf.load().withBytes { try ByteLevelBPE(huggingFaceJSON: $0) }
        }
        if let sp = checkpoint.tokenizers.first(where: { $0.kind == "sentencepiece" }) {
            return try SentencePieceBPE(model: try sp.load().array)
        }
        if let other = checkpoint.tokenizers.first {
            throw TokenizerError.unsupported("\(checkpoint.path): the \(other.kind) tokenizer (\(other.name)) is not implemented yet; give token ids (--tokens / --prompt-ids)")
        }
        throw TokenizerError.unsupported("\(checkpoint.path) carries no tokenizer; give token ids (--tokens / --prompt-ids)")
    }

    /// The tokenizer of a model file or folder, or a tokenizer file itself (`tokenizer.model*`).
    public static func load(path: String) throws -> any Tokenizer {
        let name = (path as NSString).lastPathComponent
        if name.hasSuffix(".model") || name.contains(".model.v") {
            return try SentencePieceBPE(model: try ByteRegion.mapping(path).array)
        }
        if name.hasPrefix("tekken") && name.hasSuffix(".json") {
            return try ByteRegion.mapping(path).withBytes { try Tekken(json: $0) }
        }
        if name.hasSuffix("tokenizer.json") {
            return try ByteRegion.mapping(path).withBytes { try ByteLevelBPE(huggingFaceJSON: $0) }
        }
        return try load(try Checkpoint.open(path))
    }

    /// The default evaluation text shipped with the tool (formats/eval/default.txt).
    public static var defaultEvaluationText: String { EmbeddedFormats.files["default.txt"] ?? "" }
}
