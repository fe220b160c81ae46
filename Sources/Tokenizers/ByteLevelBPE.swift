import TensorCore

/// GPT-2-style byte-level BPE (SmolLM2, and Hugging Face `tokenizer.json` of that kind):
/// bytes map to printable unicode characters, pieces from the pre-tokenizer are merged by rank.
/// Control and user-defined tokens written literally in the text are matched whole.
public final class ByteLevelBPE: Tokenizer, @unchecked Sendable {
    public let vocabularySize: Int
    public let bosID: Int?
    public let eosID: Int?
    public var addsBOS = false
    let tokens: [String]
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

    public init(tokens: [String], merges: [String], tokenTypes: [Int]?, bos: Int?, eos: Int?, unknown: Int? = nil, isolateDigits: Bool) throws {
        self.tokens = tokens
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

    /// From GGUF `tokenizer.ggml.*` metadata (as embedded in `.tmt` or read from a GGUF).
    public convenience init(ggufMetadata m: JSONValue) throws {
        guard m["tokenizer.ggml.model"]?.stringValue == "gpt2" else {
            throw TokenizerError.unsupported("GGUF tokenizer model \(m["tokenizer.ggml.model"]?.stringValue ?? "?") is not gpt2 byte-level BPE")
        }
        guard let tokens = m["tokenizer.ggml.tokens"]?.arrayValue?.compactMap(\.stringValue), !tokens.isEmpty,
              let merges = m["tokenizer.ggml.merges"]?.arrayValue?.compactMap(\.stringValue) else {
            throw TokenizerError.invalid("tokenizer.ggml.tokens or merges missing")
        }
        let types = m["tokenizer.ggml.token_type"]?.arrayValue?.compactMap(\.intValue)
        let pre = m["tokenizer.ggml.pre"]?.stringValue ?? "default"
        // llama.cpp's pre-tokenizers that split digits one by one before the GPT-2 regex.
        let isolate = ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"].contains(pre)
        try self.init(tokens: tokens, merges: merges, tokenTypes: types?.count == tokens.count ? types : nil,
                      bos: m["tokenizer.ggml.bos_token_id"]?.intValue, eos: m["tokenizer.ggml.eos_token_id"]?.intValue,
                      unknown: m["tokenizer.ggml.unknown_token_id"]?.intValue, isolateDigits: isolate)
        addsBOS = m["tokenizer.ggml.add_bos_token"]?.boolValue ?? false
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
        var tokens = [String](repeating: "", count: (vocab.values.compactMap(\.intValue).max() ?? -1) + 1)
        var types = [Int](repeating: 1, count: tokens.count)
        for (t, v) in vocab { if let i = v.intValue, i >= 0 { tokens[i] = t } }
        for a in root["added_tokens"]?.arrayValue ?? [] {
            guard let i = a["id"]?.intValue, let c = a["content"]?.stringValue, i >= 0 else { continue }
            if i >= tokens.count { tokens += [String](repeating: "", count: i + 1 - tokens.count); types += [Int](repeating: 1, count: i + 1 - types.count) }
            tokens[i] = c
            types[i] = a["special"]?.boolValue == true ? 3 : 4
        }
        let merges = mergeList.compactMap { m -> String? in
            if let s = m.stringValue { return s }
            if let pair = m.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue { return "\(a) \(b)" }
            return nil
        }
        func id(_ s: String) -> Int? { tokens.firstIndex(of: s) }
        try self.init(tokens: tokens, merges: merges, tokenTypes: types, bos: nil, eos: id("<|endoftext|>") ?? id("</s>"),
                      unknown: model["unk_token"]?.stringValue.flatMap(id), isolateDigits: isolate)
    }
}
