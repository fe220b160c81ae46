import Foundation
import TensorCore

/// Mistral's tekken tokenizer (`tekken.json`): tiktoken-style byte-level BPE over base64 token
/// bytes ranked by merge priority, split first by the pattern in its config, with a block of
/// special tokens (ids 0 ..< num_special) before the vocabulary and the vocabulary cut to the
/// configured size.
///
/// The file is checked as mistral_common's `Tekkenizer` checks it (ranks in order, the first 256
/// entries the single bytes, no duplicate token bytes, enough entries for the configured size),
/// and its pattern must be the one `TekkenPreTokenizer` implements: a regex engine running an
/// arbitrary pattern from a file can backtrack for ever (`(a+)+$`).
public final class Tekken: Tokenizer, @unchecked Sendable {
    public let vocabularySize: Int
    public let bosID: Int? = 1
    public let eosID: Int? = 2
    public let addsBOS = true
    let specialCount: Int
    /// Token bytes → rank (its id after the special tokens); keys are slices of `bytesOf`.
    let rankOf: [ArraySlice<UInt8>: Int32]
    let bytesOf: [[UInt8]]
    /// The special tokens' texts by id (`special_tokens[].token_str`), for exporting the
    /// vocabulary; a file without that list (tekken_240911.json) has mistral_common's
    /// `DEPRECATED_SPECIAL_TOKENS`, and ids named by neither are `<SPECIAL_i>`, as there.
    public let specialTokens: [String]
    static let defaultSpecialTokens = [
        "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
        "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]",
        "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]",
    ]

    public init(json data: UnsafeRawBufferPointer) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch { throw TokenizerError.invalid("tekken.json: \(error)") }
        func bad(_ field: String, _ problem: String) -> TokenizerError { .invalidField(file: "tekken.json", field: field, problem: problem) }
        guard let config = root["config"] else { throw bad("config", "missing") }
        guard let pattern = config["pattern"]?.stringValue else { throw bad("config.pattern", "missing or not a string") }
        guard pattern == TekkenPreTokenizer.pattern else {
            throw bad("config.pattern", "\(TokenIDField.text(.string(pattern))) is not tekken's pattern, the only one this tokenizer splits by")
        }
        guard let vocab = root["vocab"]?.arrayValue else { throw bad("vocab", "missing or not an array") }
        guard !vocab.isEmpty else { throw bad("vocab", "empty") }
        /// A count from the config (required, as mistral_common requires it): an integer in
        /// 0...Int32.max, since ids are 32-bit everywhere.
        func count(_ key: String) throws -> Int {
            guard let v = config[key] else { throw bad("config.\(key)", "missing") }
            guard let n = v.intValue, n >= 0, n <= Int(Int32.max) else {
                throw bad("config.\(key)", "\(TokenIDField.text(v)) is not an integer in 0...\(Int32.max)")
            }
            return n
        }
        let special = try count("default_num_special_tokens")
        let size = try count("default_vocab_size")
        guard size > special else {
            throw bad("config.default_vocab_size", "\(size) leaves no room after \(special) special tokens")
        }
        let inner = size - special
        guard inner <= vocab.count else {
            throw bad("config.default_vocab_size", "\(size) needs \(inner) vocab entries after \(special) special tokens; vocab has \(vocab.count)")
        }
        guard inner >= 256 else {
            throw bad("config.default_vocab_size", "\(size) keeps \(inner) vocab entries; byte-level BPE needs the 256 single bytes")
        }
        var names = (0..<special).map { i in i < Tekken.defaultSpecialTokens.count ? Tekken.defaultSpecialTokens[i] : "<SPECIAL_\(i)>" }
        if let specials = root["special_tokens"]?.arrayValue {
            guard specials.count <= special else {
                throw bad("special_tokens", "\(specials.count) entries, more than config.default_num_special_tokens \(special)")
            }
            for (i, s) in specials.enumerated() {
                if let r = s["rank"] {
                    let id = try TokenIDField.id(r, file: "tekken.json", field: "special_tokens[\(i)].rank", below: special)
                    if let text = s["token_str"]?.stringValue { names[id] = text }
                }
            }
        }
        specialTokens = names
        var rankOf: [ArraySlice<UInt8>: Int32] = [:]
        rankOf.reserveCapacity(inner)
        var bytesOf: [[UInt8]] = []
        bytesOf.reserveCapacity(inner)
        for (i, v) in vocab.prefix(inner).enumerated() {
            guard let b64 = v["token_bytes"]?.stringValue, let d = Data(base64Encoded: b64), !d.isEmpty else {
                throw bad("vocab[\(i)].token_bytes", "missing, empty or not base64")
            }
            if let r = v["rank"], r.intValue != i { throw bad("vocab[\(i)].rank", "\(TokenIDField.text(r)) is not the entry's position \(i)") }
            let bytes = [UInt8](d)
            if i < 256, bytes != [UInt8(i)] { throw bad("vocab[\(i)].token_bytes", "the first 256 entries must be the single bytes 0…255 in order") }
            if let first = rankOf.updateValue(Int32(i), forKey: bytes[...]) {
                throw bad("vocab[\(i)].token_bytes", "the same bytes as vocab[\(first)]")
            }
            bytesOf.append(bytes)
        }
        self.rankOf = rankOf
        self.bytesOf = bytesOf
        specialCount = special
        vocabularySize = size
    }

    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        let t = ScalarText(text)
        var cache: [ArraySlice<UInt8>: [Int]] = [:]
        var merger = PairMerge()
        for r in TekkenPreTokenizer.split(t.scalars) {
            let piece = t.bytes(r)
            if let r = rankOf[piece] { out.append(Int(r) + specialCount); continue }
            if let hit = cache[piece] { out += hit; continue }
            var ids: [Int] = []
            merge(piece, using: &merger) { ids.append(Int($0) + specialCount) }
            cache[piece] = ids
            out += ids
        }
        return out
    }

    /// tiktoken's byte-pair merge: join the adjacent pair whose bytes have the lowest rank, the
    /// rank being the id of the joined token (`PairMerge`). Starts from single bytes, whose ranks
    /// are their values (checked at load).
    func merge(_ piece: ArraySlice<UInt8>, using merger: inout PairMerge, _ emit: (Int32) -> Void) {
        merger.load()
        for b in piece { merger.append(Int32(b)) }
        let base = piece.startIndex
        merger.run { _, _, left, end in
            guard let r = rankOf[piece[(base + left)..<(base + end)]] else { return nil }
            return (UInt32(bitPattern: r), r)
        }
        merger.forEachSymbol { _, id in emit(id) }
    }

    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids where id >= specialCount && id - specialCount < bytesOf.count { out += bytesOf[id - specialCount] }
        return out
    }
}

extension Tekken {
    /// The vocabulary as GGUF's `gpt2` tokenizer spells it (what llama.cpp's
    /// convert_hf_to_gguf.py writes for tekken, gguf-py `MistralVocab`): the special tokens'
    /// texts, then each token's bytes in GPT-2's byte-to-character mapping; and the merges,
    /// for each token from rank 256 up every split into two tokens, ordered by the parts' ranks
    /// (`extract_vocab_merges_from_model`, after transformers' convert_slow_tokenizer).
    public func ggufVocabulary() -> (tokens: [String], merges: [String]) {
        func text(_ b: ArraySlice<UInt8>) -> String {
            var s = String.UnicodeScalarView()
            for x in b { s.append(ByteLevelBPE.byteToScalar[Int(x)]) }
            return String(s)
        }
        var tokens = specialTokens
        tokens.reserveCapacity(vocabularySize)
        for b in bytesOf { tokens.append(text(b[...])) }
        var merges: [String] = []
        merges.reserveCapacity(bytesOf.count)
        for token in bytesOf.dropFirst(256) {
            var local: [(Int32, Int32, Int)] = []
            for j in 1..<token.count {
                if let l = rankOf[token[..<j]], let r = rankOf[token[j...]] { local.append((l, r, j)) }
            }
            local.sort { ($0.0, $0.1) < ($1.0, $1.1) }
            for (_, _, j) in local { merges.append(text(token[..<j]) + " " + text(token[j...])) }
        }
        return (tokens, merges)
    }
}
