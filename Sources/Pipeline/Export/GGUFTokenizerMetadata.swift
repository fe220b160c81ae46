import Checkpoints
import Foundation
import TensorCore
import Tokenizers

/// The `tokenizer.*` keys of a GGUF export, from the tokenizer the model carries, spelled as
/// llama.cpp's convert_hf_to_gguf.py spells them (formats/gguf-export.md):
/// - GGUF metadata (from a GGUF, or embedded in a `.tmt` made from one): every key as it was,
///   with the type gguf-py gives it, so GGUF → `.tmt` → GGUF keeps the tokenizer;
/// - SentencePiece → `llama`: pieces, scores, types, BOS/EOS/UNK ids, add-BOS;
/// - tekken → `gpt2` with `pre = tekken`: specials then byte-mapped tokens, merges;
/// - a Hugging Face byte-level BPE `tokenizer.json` → `gpt2` with its merges;
/// - a `tokenizer_config.json`'s `chat_template`, where there is one;
/// - no tokenizer → `none` with the config's BOS/EOS (llama.cpp then runs on token ids).
enum GGUFTokenizerMetadata {
    static func keys(_ checkpoint: Checkpoint, config: ModelConfig) throws -> [(key: String, value: GGUFValue)] {
        var out: [(key: String, value: GGUFValue)] = []
        let files = checkpoint.tokenizers
        if let f = files.first(where: { $0.kind == "gguf-metadata" }) {
            let json = try f.load().withBytes { try JSONParser.parse($0) }
            // Copied key by key: arrays that disagree in length would reach llama.cpp as they are.
            try GGUFVocabularyFields.check(json, file: f.name)
            out = try fromGGUFMetadata(json, file: f.name)
        } else if let f = files.first(where: { $0.kind == "tekken" }) {
            out = try f.load().withBytes { try fromTekken(try Tekken(json: $0)) }
        } else if let f = files.first(where: { $0.kind == "sentencepiece" }) {
            out = try f.load().withBytes { try fromSentencePiece(try SentencePieceBPE(model: Array($0))) }
        } else if let f = files.first(where: { $0.kind == "hf-tokenizer-json" }) {
            out = try f.load().withBytes { b in
                try fromByteLevel(try ByteLevelBPE(huggingFaceJSON: b), pre: preTokenizerName(try JSONParser.parse(b)))
            }
        } else {
            out = [("tokenizer.ggml.model", .string("none"))]
            if let b = config.bosTokenID { out.append(("tokenizer.ggml.bos_token_id", .u32(UInt32(clamping: b)))) }
            if let e = config.eosTokenID { out.append(("tokenizer.ggml.eos_token_id", .u32(UInt32(clamping: e)))) }
        }
        if !out.contains(where: { $0.key == "tokenizer.chat_template" }),
           let f = files.first(where: { $0.kind == "hf-tokenizer-config" }),
           let template = try f.load().withBytes({ try JSONParser.parse($0) })["chat_template"]?.stringValue {
            out.append(("tokenizer.chat_template", .string(template)))
        }
        return out
    }

    /// The types gguf-py's `GGUFWriter` gives the tokenizer keys (gguf/constants.py `Keys.Tokenizer`).
    static let knownTypes: [String: UInt32] = [
        "tokenizer.ggml.model": 8, "tokenizer.ggml.pre": 8, "tokenizer.chat_template": 8,
        "tokenizer.ggml.tokens": 8, "tokenizer.ggml.merges": 8, "tokenizer.ggml.token_type": 5,
        "tokenizer.ggml.scores": 6, "tokenizer.ggml.token_type_count": 4, "tokenizer.ggml.precompiled_charsmap": 0,
        "tokenizer.ggml.add_bos_token": 7, "tokenizer.ggml.add_eos_token": 7, "tokenizer.ggml.add_sep_token": 7,
        "tokenizer.ggml.add_space_prefix": 7, "tokenizer.ggml.remove_extra_whitespaces": 7,
    ]

    /// GGUF's order for the keys it writes first; the rest follow in name order.
    static let order = ["tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                        "tokenizer.ggml.scores", "tokenizer.ggml.merges"]

    /// Keys read from a GGUF, back with their types: JSON kept the values, the key names say
    /// the types (ids are uint32, lists by what they list). An unknown key keeps what its JSON
    /// value says: an integer as int32 (int64 if it does not fit), a number as float32.
    static func fromGGUFMetadata(_ json: JSONValue, file: String) throws -> [(key: String, value: GGUFValue)] {
        guard let object = json.objectValue else {
            throw TokenizerError.invalidField(file: file, field: "(root)", problem: "not an object of GGUF keys")
        }
        let keys = object.keys.sorted { a, b in
            let (i, j) = (order.firstIndex(of: a) ?? order.count, order.firstIndex(of: b) ?? order.count)
            return i != j ? i < j : a < b
        }
        return try keys.map { k in
            let v = object[k] ?? .null
            var type = knownTypes[k]
            if type == nil, k.hasSuffix("_token_id") { type = 4 }
            if type == nil, k.hasPrefix("tokenizer.chat_template") { type = 8 }
            return (k, try value(v, type: type, key: k, file: file))
        }
    }

    static func value(_ v: JSONValue, type: UInt32?, key: String, file: String) throws -> GGUFValue {
        func bad(_ s: String) -> TokenizerError { .invalidField(file: file, field: key, problem: s) }
        if case .array(let a) = v {
            let elementType = type ?? a.first.map { inferredType($0) } ?? 8
            return .array(elementType: elementType, try a.map { try value($0, type: elementType, key: key, file: file) })
        }
        switch type ?? inferredType(v) {
        case 0: guard let x = v.intValue, let u = UInt8(exactly: x) else { throw bad("not a uint8") }; return .u8(u)
        case 4: guard let x = v.intValue, let u = UInt32(exactly: x) else { throw bad("not a uint32") }; return .u32(u)
        case 5: guard let x = v.intValue, let i = Int32(exactly: x) else { throw bad("not an int32") }; return .i32(i)
        case 11: guard let x = v.intValue else { throw bad("not an integer") }; return .i64(Int64(x))
        case 6: guard let x = v.doubleValue else { throw bad("not a number") }; return .f32(Float(x))
        case 7: guard let x = v.boolValue else { throw bad("not a bool") }; return .bool(x)
        case 8: guard let x = v.stringValue else { throw bad("not a string") }; return .string(x)
        default: throw bad("a value GGUF metadata cannot hold")
        }
    }

    static func inferredType(_ v: JSONValue) -> UInt32 {
        switch v {
        case .int(let i): return Int32(exactly: i) != nil ? 5 : 11
        case .double: return 6
        case .bool: return 7
        default: return 8
        }
    }

    static func fromSentencePiece(_ t: SentencePieceBPE) throws -> [(key: String, value: GGUFValue)] {
        var out: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .strings(t.pieces)),
            ("tokenizer.ggml.token_type", .int32s(t.types.map { Int32($0.rawValue) })),
            ("tokenizer.ggml.scores", .float32s(t.scores)),
        ]
        if let b = t.bosID { out.append(("tokenizer.ggml.bos_token_id", .u32(UInt32(b)))) }
        if let e = t.eosID { out.append(("tokenizer.ggml.eos_token_id", .u32(UInt32(e)))) }
        out.append(("tokenizer.ggml.unknown_token_id", .u32(UInt32(t.unknownID))))
        out.append(("tokenizer.ggml.add_bos_token", .bool(true)))
        out.append(("tokenizer.ggml.add_eos_token", .bool(false)))
        out.append(("tokenizer.ggml.add_space_prefix", .bool(t.addDummyPrefix)))
        return out
    }

    static func fromTekken(_ t: Tekken) throws -> [(key: String, value: GGUFValue)] {
        let (tokens, merges) = t.ggufVocabulary()
        let specials = t.specialTokens.count
        return [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("tekken")),
            ("tokenizer.ggml.tokens", .strings(tokens)),
            ("tokenizer.ggml.token_type", .int32s(tokens.indices.map { $0 < specials ? 3 : 1 })),
            ("tokenizer.ggml.scores", .float32s([Float](repeating: 0, count: tokens.count))),
            ("tokenizer.ggml.merges", .strings(merges)),
            ("tokenizer.ggml.bos_token_id", .u32(UInt32(t.bosID ?? 1))),
            ("tokenizer.ggml.eos_token_id", .u32(UInt32(t.eosID ?? 2))),
            ("tokenizer.ggml.unknown_token_id", .u32(0)),
            ("tokenizer.ggml.add_bos_token", .bool(true)),
            ("tokenizer.ggml.add_eos_token", .bool(false)),
        ]
    }

    static func fromByteLevel(_ t: ByteLevelBPE, pre: String) throws -> [(key: String, value: GGUFValue)] {
        var out: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(pre)),
            ("tokenizer.ggml.tokens", .strings(t.tokens)),
            ("tokenizer.ggml.token_type", .int32s((t.tokenTypes ?? [Int](repeating: 1, count: t.tokens.count)).map { Int32($0) })),
            ("tokenizer.ggml.merges", .strings(t.mergeLines())),
        ]
        if let b = t.bosID { out.append(("tokenizer.ggml.bos_token_id", .u32(UInt32(b)))) }
        if let e = t.eosID { out.append(("tokenizer.ggml.eos_token_id", .u32(UInt32(e)))) }
        if let u = t.unknownTokenID { out.append(("tokenizer.ggml.unknown_token_id", .u32(UInt32(u)))) }
        out.append(("tokenizer.ggml.add_bos_token", .bool(t.addsBOS)))
        return out
    }

    /// llama.cpp's name for a byte-level pre-tokenizer: the ones that split digits one by one
    /// (SmolLM2's `Digits(individual_digits)`) are `smollm`; plain GPT-2 splitting is `gpt2`.
    /// (llama.cpp names pre-tokenizers by a hash of their output on a test text; these two are
    /// the regexes Tramontane's own `GPT2PreTokenizer` implements.)
    static func preTokenizerName(_ root: JSONValue) -> String {
        let pre = root["pre_tokenizer"]
        let parts = pre?["type"]?.stringValue == "Sequence" ? (pre?["pretokenizers"]?.arrayValue ?? []) : (pre.map { [$0] } ?? [])
        let isolate = parts.contains { $0["type"]?.stringValue == "Digits" && $0["individual_digits"]?.boolValue == true }
        return isolate ? "smollm" : "gpt2"
    }
}
