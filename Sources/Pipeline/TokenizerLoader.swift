import Checkpoints
import Crypto
import Foundation
import TensorCore
import Tokenizers

/// Finds and builds the tokenizer that travels with a model: GGUF metadata (from a GGUF or
/// embedded in a `.tmt`), or a tokenizer file beside a checkpoint.
public enum TokenizerLoader {
    public static func load(_ checkpoint: Checkpoint) throws -> any Tokenizer {
        // In this order of preference when a checkpoint carries several.
        for kind in ["gguf-metadata", "tekken", "hf-tokenizer-json", "sentencepiece"] {
            guard let file = checkpoint.tokenizers.first(where: { $0.kind == kind }) else { continue }
            if let t = try file.load().withBytes({ try build(kind: kind, bytes: $0) }) { return t }
        }
        if let other = checkpoint.tokenizers.first {
            throw TokenizerError.unsupported("\(checkpoint.path): the \(other.kind) tokenizer (\(other.name)) is not implemented yet; give token ids (--tokens / --prompt-ids)")
        }
        throw TokenizerError.unsupported("\(checkpoint.path) carries no tokenizer; give token ids (--tokens / --prompt-ids)")
    }

    /// Builds a tokenizer file (`bytes`, of `kind`) as `generate` would, so a file that is
    /// garbage, or would fail later, is refused before it is embedded; a kind that is not a
    /// tokenizer (`hf-tokenizer-config`), or a tokenizer of a kind Tramontane does not run,
    /// must be JSON. Its vocabulary must fit the model's
    /// embeddings (`vocabulary` rows). With a `cache`, bytes that passed before (by SHA-256,
    /// with this tool version, kind and vocabulary) are not built again: a ladder of
    /// quantizations from one source builds its tokenizer once.
    public static func check(kind: String, name: String, bytes: UnsafeRawBufferPointer, vocabulary: Int, cache: HashCache? = nil) throws {
        var key: (name: String, digest: String)?
        if let cache {
            let digest = SHA256.hash(data: bytes).map { String(format2: $0) }.joined()
            let k = "tokenizer-ok-\(Converter.toolVersion)-\(kind)-\(vocabulary)-\(digest)"
            if cache.lookup(k) == digest { return }
            key = (k, digest)
        }
        var tokenizer: (any Tokenizer)?
        do {
            tokenizer = try build(kind: kind, bytes: bytes)
        } catch TokenizerError.unsupported {
            // A kind of tokenizer Tramontane does not run (a Metaspace tokenizer.json, a GGUF
            // llama SentencePiece): it travels as it came, and `generate` says so.
            tokenizer = nil
        }
        // What is not built must still be JSON where its kind is JSON.
        if tokenizer == nil && kind != "sentencepiece" { _ = try JSONParser.parse(bytes) }
        if let tokenizer, tokenizer.vocabularySize > vocabulary {
            throw TokenizerError.invalid("\(name): \(tokenizer.vocabularySize) tokens, but the model's embeddings have \(vocabulary) rows")
        }
        if let cache, let key { cache.store(key.name, key.digest) }
    }

    /// The tokenizer a file of `kind` holds (nil for a kind that is not one, such as
    /// `hf-tokenizer-config`).
    static func build(kind: String, bytes: UnsafeRawBufferPointer) throws -> (any Tokenizer)? {
        switch kind {
        case "gguf-metadata": return try ByteLevelBPE(ggufMetadata: try JSONParser.parse(bytes))
        case "tekken": return try Tekken(json: bytes)
        case "hf-tokenizer-json": return try ByteLevelBPE(huggingFaceJSON: bytes)
        case "sentencepiece": return try SentencePieceBPE(model: Array(bytes))
        default: return nil
        }
    }

    /// The tokenizer of a model file or folder, or a tokenizer file itself (`tokenizer.model*`).
    public static func load(path: String) throws -> any Tokenizer {
        let name = (path as NSString).lastPathComponent
        let kind: String? = name.hasSuffix(".model") || name.contains(".model.v") ? "sentencepiece"
            : name.hasPrefix("tekken") && name.hasSuffix(".json") ? "tekken"
            : name.hasSuffix("tokenizer.json") ? "hf-tokenizer-json" : nil
        if let kind, let t = try ByteRegion.mapping(path).withBytes({ try build(kind: kind, bytes: $0) }) { return t }
        return try load(try Checkpoint.open(path))
    }

    /// The default evaluation text shipped with the tool (formats/eval/default.txt).
    public static var defaultEvaluationText: String { EmbeddedFormats.files["default.txt"] ?? "" }
}
