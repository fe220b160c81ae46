import TensorCore

/// GPT-2-style byte-level BPE (SmolLM2, and Hugging Face `tokenizer.json` of that kind):
/// bytes map to printable unicode characters, pieces from the pre-tokenizer are merged by rank.
/// Control and user-defined tokens written literally in the text are matched whole.
public final class ByteLevelBPE: Tokenizer, @unchecked Sendable {
    public let vocabularySize: Int
    public let bosID: Int?
    public let eosID: Int?
    public var addsBOS = false
    /// Token texts by id, as the vocabulary spells them (bytes in GPT-2's mapping).
    public let tokens: [String]
    /// Token types by id (gguf's numbering: 1 normal, 3 control, 4 user-defined), if given.
    public let tokenTypes: [Int]?
    let ids: [String: Int]
    /// (left id, right id) → (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    let byteToken: [Int32]          // byte → id of its single-character token
    let tokenBytes: [[UInt8]]       // id → the bytes it decodes to
    let specials: [(String, Int)]   // literal special tokens, longest first
    let specialBytes: [([UInt8], Int)]
    let specialFirstBytes: [Bool]
    let pre: GPT2PreTokenizer

    /// GPT-2's `bytes_to_unicode`: printable bytes stand for themselves, the rest are shifted
    /// to U+0100 and up.
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable { table[b] = Unicode.Scalar(UInt32(b))! } else { table[b] = Unicode.Scalar(256 + n)!; n += 1 }
        }
        return table
    }()

    /// Where a byte has no token of its own (some vocabularies lack a few control bytes).
    let unknownID: Int32
    /// The unknown token's id, if the vocabulary names one.
    public var unknownTokenID: Int? { unknownID >= 0 ? Int(unknownID) : nil }

    /// `tokens` are indexed by id; bos, eos and unknown must be ids of them (the convenience
    /// initializers check the file's fields first and name them).
    public init(tokens: [String], merges: [String], tokenTypes: [Int]?, bos: Int?, eos: Int?, unknown: Int? = nil, isolateDigits: Bool) throws {
        // Ids and merge ranks are 32-bit.
        guard tokens.count <= Int(Int32.max), merges.count <= Int(Int32.max) else {
            throw TokenizerError.invalid("\(tokens.count) tokens and \(merges.count) merges: more than 32-bit ids can name")
        }
        guard tokenTypes == nil || tokenTypes?.count == tokens.count else {
            throw TokenizerError.invalid("\(tokenTypes?.count ?? 0) token types for \(tokens.count) tokens")
        }
        for (name, id) in [("bos", bos), ("eos", eos), ("unknown", unknown)] {
            if let id, !(0..<tokens.count).contains(id) { throw TokenizerError.invalid("\(name) id \(id) is not a token id in 0..<\(tokens.count)") }
        }
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        vocabularySize = tokens.count
        bosID = bos
        eosID = eos
        pre = GPT2PreTokenizer(isolateDigits: isolateDigits)
        var ids: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where ids[t] == nil { ids[t] = i }
        self.ids = ids
        var scalarToByte: [UInt32: UInt8] = [:]
        for (b, s) in Self.byteToScalar.enumerated() { scalarToByte[s.value] = UInt8(b) }
        var byteToken = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { byteToken[b] = ids[String(Character(Self.byteToScalar[b]))].map(Int32.init) ?? -1 }
        guard byteToken.filter({ $0 >= 0 }).count >= 128 else { throw TokenizerError.invalid("fewer than 128 of the 256 byte tokens exist: not a byte-level vocabulary") }
        self.byteToken = byteToken
        unknownID = Int32(unknown ?? -1)
        var m: [UInt64: (rank: Int32, id: Int32)] = [:]
        m.reserveCapacity(merges.count)
        for (rank, line) in merges.enumerated() {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let a = ids[String(parts[0])], let b = ids[String(parts[1])],
                  let merged = ids[String(parts[0]) + String(parts[1])] else { continue }
            let key = UInt64(a) << 32 | UInt64(b)
            if m[key] == nil { m[key] = (Int32(rank), Int32(merged)) }
        }
        self.merges = m
        var specials: [(String, Int)] = []
        tokenBytes = tokens.enumerated().map { i, t in
            let type = tokenTypes?[i] ?? 1
            if type == 3 || type == 4 { return Array(t.utf8) }   // control / user-defined: literal text
            return t.unicodeScalars.map { scalarToByte[$0.value] ?? 0x3F }
        }
        if let types = tokenTypes {
            for (i, t) in tokens.enumerated() where (types[i] == 3 || types[i] == 4) && !t.isEmpty { specials.append((t, i)) }
        }
        self.specials = specials.sorted { $0.0.utf8.count > $1.0.utf8.count }
        specialBytes = self.specials.map { (Array($0.0.utf8), $0.1) }
        var first = [Bool](repeating: false, count: 256)
        for (b, _) in specialBytes { first[Int(b[0])] = true }
        specialFirstBytes = first
    }

    /// From GGUF `tokenizer.ggml.*` metadata (as embedded in `.tmt` or read from a GGUF). The
    /// arrays indexed by token and the `*_token_id` keys are checked first, whatever the model
    /// (`GGUFVocabularyFields`), so a `llama` vocabulary that lies is refused as invalid, not
    /// carried as unsupported.
    public convenience init(ggufMetadata m: JSONValue) throws {
        try GGUFVocabularyFields.check(m)
        guard m["tokenizer.ggml.model"]?.stringValue == "gpt2" else {
            throw TokenizerError.unsupported("GGUF tokenizer model \(m["tokenizer.ggml.model"]?.stringValue ?? "?") is not gpt2 byte-level BPE")
        }
        func strings(_ key: String) throws -> [String] {
            guard let a = m[key]?.arrayValue else { throw TokenizerError.invalidField(file: "GGUF metadata", field: key, problem: "missing or not an array") }
            return a.compactMap(\.stringValue)   // all strings: checked above
        }
        let tokens = try strings("tokenizer.ggml.tokens"), merges = try strings("tokenizer.ggml.merges")
        guard !tokens.isEmpty else { throw TokenizerError.invalidField(file: "GGUF metadata", field: "tokenizer.ggml.tokens", problem: "empty") }
        /// An id the metadata gives (llama.cpp reads them as uint32 and falls back to a default
        /// when out of range; here it is an error naming the key, raised by the check above).
        func id(_ key: String) throws -> Int? {
            try m[key].map { try TokenIDField.id($0, file: "GGUF metadata", field: key, below: tokens.count, why: "the vocabulary has \(tokens.count) tokens") }
        }
        let bos = try id("tokenizer.ggml.bos_token_id"), eos = try id("tokenizer.ggml.eos_token_id"), unknown = try id("tokenizer.ggml.unknown_token_id")
        // One integer per token when present (checked above).
        let types = m["tokenizer.ggml.token_type"]?.arrayValue?.compactMap(\.intValue)
        let pre = m["tokenizer.ggml.pre"]?.stringValue ?? "default"
        // llama.cpp's pre-tokenizers that split digits one by one before the GPT-2 regex.
        let isolate = ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"].contains(pre)
        try self.init(tokens: tokens, merges: merges, tokenTypes: types,
                      bos: bos, eos: eos, unknown: unknown, isolateDigits: isolate)
        addsBOS = m["tokenizer.ggml.add_bos_token"]?.boolValue ?? false
    }

    /// The merges as GGUF's `tokenizer.ggml.merges` lines ("left right"), in rank order: those
    /// of the file whose parts and result are tokens (the others can never apply).
    public func mergeLines() -> [String] {
        merges.sorted { $0.value.rank < $1.value.rank }.map { key, _ in
            tokens[Int(key >> 32)] + " " + tokens[Int(key & 0xFFFF_FFFF)]
        }
    }

    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        guard !specials.isEmpty else { encodePlain(text, into: &out); return out }
        // Split out literal special tokens first (longest first at each position), comparing bytes.
        let bytes = Array(text.utf8)
        var plainStart = 0, i = 0
        while i < bytes.count {
            if specialFirstBytes[Int(bytes[i])], let (id, length) = special(at: i, in: bytes) {
                if i > plainStart { encodePlain(String(decoding: bytes[plainStart..<i], as: UTF8.self), into: &out) }
                out.append(id)
                i += length
                plainStart = i
            } else {
                i += 1
            }
        }
        if plainStart < bytes.count { encodePlain(String(decoding: bytes[plainStart...], as: UTF8.self), into: &out) }
        return out
    }

    func special(at i: Int, in bytes: [UInt8]) -> (Int, Int)? {
        for (s, id) in specialBytes where bytes.count - i >= s.count {
            var k = 0
            while k < s.count && bytes[i + k] == s[k] { k += 1 }
            if k == s.count { return (id, s.count) }
        }
        return nil
    }

    func encodePlain(_ text: String, into out: inout [Int]) {
        let t = ScalarText(text)
        // Words repeat: merge each distinct piece once (keyed by its bytes).
        var cache: [ArraySlice<UInt8>: [Int]] = [:]
        var merger = PairMerge()
        for r in pre.ranges(t.scalars) {
            let piece = t.bytes(r)
            if let hit = cache[piece] { out += hit; continue }
            let ids = merge(piece, using: &merger)
            cache[piece] = ids
            out += ids
        }
    }

    /// The ids of one piece: its bytes' tokens joined by merge rank (`PairMerge`).
    func merge(_ piece: ArraySlice<UInt8>, using merger: inout PairMerge) -> [Int] {
        merger.load()
        // A byte without a token becomes the unknown token (or is dropped if there is none).
        for b in piece {
            let id = byteToken[Int(b)] >= 0 ? byteToken[Int(b)] : unknownID
            if id >= 0 { merger.append(id) }
        }
        merger.run { a, b, _, _ in
            guard let m = merges[UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))] else { return nil }
            return (UInt32(bitPattern: m.rank), m.id)
        }
        var ids: [Int] = []
        merger.forEachSymbol { _, id in ids.append(Int(id)) }
        return ids
    }

    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids where id >= 0 && id < tokenBytes.count { out += tokenBytes[id] }
        return out
    }
}

extension ByteLevelBPE {
    /// From a Hugging Face `tokenizer.json` whose model is byte-level BPE (`model.type` BPE,
    /// a ByteLevel pre-tokenizer, optionally preceded by `Digits(individual_digits)`).
    /// Added special tokens are matched literally in text.
    public convenience init(huggingFaceJSON data: UnsafeRawBufferPointer) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch { throw TokenizerError.invalid("tokenizer.json: \(error)") }
        guard let model = root["model"], model["type"]?.stringValue == "BPE", let vocab = model["vocab"]?.objectValue,
              let mergeList = model["merges"]?.arrayValue else {
            throw TokenizerError.unsupported("tokenizer.json: only byte-level BPE models are supported")
        }
        let pre = root["pre_tokenizer"]
        let parts = pre?["type"]?.stringValue == "Sequence" ? (pre?["pretokenizers"]?.arrayValue ?? []) : (pre.map { [$0] } ?? [])
        guard parts.contains(where: { $0["type"]?.stringValue == "ByteLevel" }) else {
            throw TokenizerError.unsupported("tokenizer.json: the pre-tokenizer is not ByteLevel")
        }
        let isolate = parts.contains { $0["type"]?.stringValue == "Digits" && $0["individual_digits"]?.boolValue == true }
        // Tables are indexed by id, so ids are checked against the tokens actually listed before
        // anything is sized from them: a hole-free vocabulary uses ids 0..<listed, and holes may at
        // most double that (HF tokenizers keeps ids in a map; one id of 10^8 would cost GBs here).
        let added = root["added_tokens"]?.arrayValue ?? []
        let listed = vocab.count + added.count
        let limit = min(2 * listed, Int(Int32.max))
        let why = "ids stay below twice the \(listed) tokens listed"
        var entries: [(id: Int, token: String)] = []
        entries.reserveCapacity(vocab.count)
        for (t, v) in vocab {
            entries.append((try TokenIDField.id(v, file: "tokenizer.json", field: "model.vocab[\(TokenIDField.text(.string(t)))]", below: limit, why: why), t))
        }
        // The same id twice would leave which token it decodes to to dictionary order.
        entries.sort { $0.id < $1.id || ($0.id == $1.id && $0.token < $1.token) }
        for (a, b) in zip(entries, entries.dropFirst()) where a.id == b.id {
            throw TokenizerError.invalidField(file: "tokenizer.json", field: "model.vocab",
                                              problem: "\(TokenIDField.text(.string(a.token))) and \(TokenIDField.text(.string(b.token))) both have id \(a.id)")
        }
        var addedEntries: [(id: Int, content: String, special: Bool)] = []
        for (n, a) in added.enumerated() {
            guard let idValue = a["id"], let c = a["content"]?.stringValue else {
                throw TokenizerError.invalidField(file: "tokenizer.json", field: "added_tokens[\(n)]", problem: "needs an id and a string content")
            }
            addedEntries.append((try TokenIDField.id(idValue, file: "tokenizer.json", field: "added_tokens[\(n)].id", below: limit, why: why), c,
                                 a["special"]?.boolValue == true))
        }
        let count = max(entries.last.map { $0.id + 1 } ?? 0, addedEntries.map { $0.id + 1 }.max() ?? 0)
        var tokens = [String](repeating: "", count: count)
        var types = [Int](repeating: 1, count: count)
        for e in entries { tokens[e.id] = e.token }
        for a in addedEntries {
            tokens[a.id] = a.content
            types[a.id] = a.special ? 3 : 4
        }
        let merges = try mergeList.enumerated().map { n, m -> String in
            if let s = m.stringValue { return s }
            if let pair = m.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue { return "\(a) \(b)" }
            throw TokenizerError.invalidField(file: "tokenizer.json", field: "model.merges[\(n)]", problem: "neither \"a b\" nor [\"a\", \"b\"]")
        }
        func id(_ s: String) -> Int? { tokens.firstIndex(of: s) }
        try self.init(tokens: tokens, merges: merges, tokenTypes: types, bos: nil, eos: id("<|endoftext|>") ?? id("</s>"),
                      unknown: model["unk_token"]?.stringValue.flatMap(id), isolateDigits: isolate)
    }
}
