import Checkpoints
import Foundation
import TensorCore
import Tokenizers

/// The tokenizer files of an exported folder: the files a checkpoint carried
/// (`tokenizer.json`, `tokenizer.model`, `tekken.json`, `tokenizer_config.json`) are copied as
/// they are; GGUF byte-level BPE metadata (`tokenizer.ggml.model = gpt2`, as a `.tmt` made from
/// a GGUF embeds it) becomes a Hugging Face `tokenizer.json` and `tokenizer_config.json`.
enum ExportTokenizer {
    /// Writes the files into `dir`; returns their names.
    static func write(_ checkpoint: Checkpoint, into dir: OutputDirectory) throws -> [String] {
        var names: [String] = []
        for t in checkpoint.tokenizers {
            let bytes = try t.load().array
            if t.kind == "gguf-metadata" {
                let meta: JSONValue
                do { meta = try bytes.withUnsafeBytes { try JSONParser.parse($0) } } catch { throw PipelineError.tokenizerExport("\(t.name): \(error)") }
                // A GGUF SentencePiece vocabulary (`llama`) has no file to become here.
                guard meta["tokenizer.ggml.model"]?.stringValue == "gpt2" else { continue }
                let (json, config) = try huggingFace(fromGGUF: meta)
                try SafetensorsExport.writeFile(JSONWriter.bytes(json), "tokenizer.json", in: dir)
                try SafetensorsExport.writeJSON(config, "tokenizer_config.json", in: dir)
                names += ["tokenizer.json", "tokenizer_config.json"]
                continue
            }
            guard !t.name.contains("/"), !t.name.hasPrefix("."), !names.contains(t.name) else { continue }
            try SafetensorsExport.writeFile(bytes, t.name, in: dir)
            names.append(t.name)
        }
        return names
    }

    /// GGUF `gpt2` metadata as `tokenizer.json` (BPE model, ByteLevel pre-tokenizer and decoder,
    /// digits split one by one first where llama.cpp's pre-tokenizer does) and a
    /// `tokenizer_config.json` (special tokens, chat template).
    static func huggingFace(fromGGUF m: JSONValue) throws -> (JSONValue, JSONValue) {
        try GGUFVocabularyFields.check(m)
        guard let tokens = m["tokenizer.ggml.tokens"]?.arrayValue?.compactMap(\.stringValue), !tokens.isEmpty else {
            throw PipelineError.tokenizerExport("GGUF metadata: tokenizer.ggml.tokens is missing or not strings")
        }
        let merges = m["tokenizer.ggml.merges"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let types = m["tokenizer.ggml.token_type"]?.arrayValue?.map { $0.intValue ?? 1 } ?? []
        var vocab: [String: JSONValue] = [:]
        var added: [JSONValue] = []
        for (id, t) in tokens.enumerated() {
            if vocab[t] == nil { vocab[t] = .int(Int64(id)) }
            let type = id < types.count ? types[id] : 1
            // llama.cpp token types: 3 control, 4 user-defined; both are matched whole in text.
            if type == 3 || type == 4 {
                added.append(.object(["id": .int(Int64(id)), "content": .string(t), "special": .bool(type == 3),
                                      "single_word": .bool(false), "lstrip": .bool(false), "rstrip": .bool(false), "normalized": .bool(false)]))
            }
        }
        let pre = m["tokenizer.ggml.pre"]?.stringValue ?? "default"
        let byteLevel: JSONValue = .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(false), "trim_offsets": .bool(true), "use_regex": .bool(true)])
        // As ByteLevelBPE(ggufMetadata:) reads llama.cpp's pre-tokenizer names.
        let isolate = ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"].contains(pre)
        let preTokenizer: JSONValue = isolate
            ? .object(["type": .string("Sequence"), "pretokenizers": .array([.object(["type": .string("Digits"), "individual_digits": .bool(true)]), byteLevel])])
            : byteLevel
        let json: JSONValue = .object([
            "version": .string("1.0"), "truncation": .null, "padding": .null,
            "added_tokens": .array(added), "normalizer": .null, "pre_tokenizer": preTokenizer,
            "post_processor": .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(true), "trim_offsets": .bool(false), "use_regex": .bool(true)]),
            "decoder": .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(true), "trim_offsets": .bool(true), "use_regex": .bool(true)]),
            "model": .object(["type": .string("BPE"), "dropout": .null, "unk_token": .null, "continuing_subword_prefix": .null,
                              "end_of_word_suffix": .null, "fuse_unk": .bool(false), "byte_fallback": .bool(false), "ignore_merges": .bool(false),
                              "vocab": .object(vocab), "merges": .array(merges.map { .string($0) })]),
        ])
        func token(_ key: String) -> JSONValue {
            guard let id = m[key]?.intValue, id >= 0, id < tokens.count else { return .null }
            return .string(tokens[id])
        }
        var config: [String: JSONValue] = [
            "tokenizer_class": .string("PreTrainedTokenizerFast"),
            "bos_token": token("tokenizer.ggml.bos_token_id"), "eos_token": token("tokenizer.ggml.eos_token_id"),
            "unk_token": token("tokenizer.ggml.unknown_token_id"), "pad_token": token("tokenizer.ggml.padding_token_id"),
            "add_bos_token": .bool(m["tokenizer.ggml.add_bos_token"]?.boolValue ?? false),
            "clean_up_tokenization_spaces": .bool(false),
            "model_max_length": .int(Int64(ModelConfig.exportedContextLength)),
        ]
        if let template = m["tokenizer.chat_template"]?.stringValue { config["chat_template"] = .string(template) }
        return (json, .object(config))
    }
}
