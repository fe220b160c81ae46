/// SentencePiece BPE from a `tokenizer.model` (Mistral v1 and v3): pieces with scores and types,
/// `▁` for spaces, a dummy prefix, byte fallback (`<0x0A>`), control tokens never produced from
/// text. Merging follows sentencepiece's bpe_model.cc: repeatedly merge the adjacent pair whose
/// concatenation is a piece with the highest score (leftmost on ties).
public final class SentencePieceBPE: Tokenizer, @unchecked Sendable {
    public enum PieceType: Int { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    public let pieces: [String]
    public let scores: [Float]
    public let types: [PieceType]
    public var vocabularySize: Int { pieces.count }
    public let bosID: Int?
    public let eosID: Int?
    public let addsBOS = true
    public let unknownID: Int
    public let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let byteFallback: Bool
    /// (left id, right id) → (merged id, its rank), from `SentencePieceMergeTable`.
    let merges: [UInt64: (id: Int32, rank: UInt32)]
    /// Single-code-point pieces by scalar value: the starting symbols.
    let scalarIDs: [UInt32: Int32]
    /// True when no piece has ▁ after another character (Mistral's vocabularies): then no merge
    /// crosses a word start, and each word is merged on its own (same result, a smaller heap).
    let wordsAreIndependent: Bool
    let byteIDs: [Int]               // byte value → id of <0xXX>

    public init(model bytes: [UInt8]) throws {
        // Ids and trie nodes are 32-bit: a model this large has more pieces than an id can name.
        guard bytes.count < Int(Int32.max) else {
            throw TokenizerError.invalidField(file: "tokenizer.model", field: "pieces", problem: "a \(bytes.count)-byte model is beyond 32-bit token ids")
        }
        var r = ProtobufReader(bytes)
        var pieces: [String] = [], scores: [Float] = [], types: [PieceType] = []
        var addDummy = true, removeExtra = true, byteFallback = false, modelType = 1
        while !r.isAtEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, 2):
                var p = ProtobufReader(bytes, from: try r.lengthDelimited().lowerBound, to: r.offset)
                var piece = "", score: Float = 0, type = PieceType.normal
                while !p.isAtEnd {
                    let (f, w) = try p.tag()
                    switch (f, w) {
                    case (1, 2): piece = String(decoding: bytes[try p.lengthDelimited()], as: UTF8.self)
                    case (2, 5): score = Float(bitPattern: try p.fixed32())
                    case (3, 0): type = PieceType(rawValue: Int(try p.int32())) ?? .normal
                    default: try p.skip(wireType: w)
                    }
                }
                guard !score.isNaN else {
                    throw TokenizerError.invalidField(file: "tokenizer.model", field: "pieces[\(pieces.count)].score", problem: "NaN orders no merge")
                }
                pieces.append(piece); scores.append(score); types.append(type)
            case (2, 2):
                let range = try r.lengthDelimited()
                var t = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
                while !t.isAtEnd {
                    let (f, w) = try t.tag()
                    if f == 3 && w == 0 { modelType = Int(try t.int32()) }
                    else if f == 35 && w == 0 { byteFallback = try t.varint() != 0 }
                    else { try t.skip(wireType: w) }
                }
            case (3, 2):
                let range = try r.lengthDelimited()
                var n = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
                while !n.isAtEnd {
                    let (f, w) = try n.tag()
                    if f == 3 && w == 0 { addDummy = try n.varint() != 0 }
                    else if f == 4 && w == 0 { removeExtra = try n.varint() != 0 }
                    else { try n.skip(wireType: w) }
                }
            default:
                try r.skip(wireType: wire)
            }
        }
        guard modelType == 2 else { throw TokenizerError.unsupported("SentencePiece model type \(modelType) is not BPE (2)") }
        guard !pieces.isEmpty else { throw TokenizerError.invalid("no pieces") }
        self.pieces = pieces
        self.scores = scores
        self.types = types
        addDummyPrefix = addDummy
        removeExtraWhitespaces = removeExtra
        self.byteFallback = byteFallback
        var byteIDs = [Int](repeating: -1, count: 256)
        for (i, p) in pieces.enumerated() where types[i] == .byte {
            if p.hasPrefix("<0x"), p.hasSuffix(">"), let v = UInt8(p.dropFirst(3).dropLast(), radix: 16) { byteIDs[Int(v)] = i }
        }
        self.byteIDs = byteIDs
        let table = SentencePieceMergeTable(pieces: pieces, scores: scores, types: types)
        merges = table.merges
        scalarIDs = table.scalarIDs
        wordsAreIndependent = !table.mergesAcrossWords
        unknownID = types.firstIndex(of: .unknown) ?? 0
        bosID = pieces.firstIndex(of: "<s>")
        eosID = pieces.firstIndex(of: "</s>")
    }

    /// The normalized text as code points (sentencepiece splits by code point, not by
    /// grapheme): dummy prefix, spaces as ▁ (the identity normalizer Mistral's models use).
    func normalize(_ text: String) -> [Unicode.Scalar] {
        guard !text.isEmpty else { return [] }
        var t = text
        if removeExtraWhitespaces {
            t = t.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            if t.isEmpty { return [] }
        }
        let mark: Unicode.Scalar = "\u{2581}"
        var out: [Unicode.Scalar] = addDummyPrefix ? [mark] : []
        out.reserveCapacity(t.unicodeScalars.count + 1)
        for u in t.unicodeScalars { out.append(u == " " ? mark : u) }
        return out
    }

    public func encode(_ text: String) -> [Int] {
        let chars = normalize(text)
        var out: [Int] = []
        guard !chars.isEmpty else { return out }
        var merger = PairMerge()
        guard wordsAreIndependent else { encode(chars[...], using: &merger, into: &out); return out }
        var start = 0
        for i in 1..<chars.count where chars[i] == "\u{2581}" && chars[i - 1] != "\u{2581}" {
            encode(chars[start..<i], using: &merger, into: &out)
            start = i
        }
        encode(chars[start...], using: &merger, into: &out)
        return out
    }

    /// sentencepiece's BPE over one run of code points: merge the adjacent pair whose
    /// concatenation is the piece of highest score, leftmost on ties (`PairMerge`). A character
    /// that is no piece (−1) never merges.
    func encode(_ chars: ArraySlice<Unicode.Scalar>, using merger: inout PairMerge, into out: inout [Int]) {
        merger.load()
        for c in chars { merger.append(scalarIDs[c.value] ?? -1) }
        merger.run { a, b, _, _ in
            guard a >= 0, b >= 0, let m = merges[UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))] else { return nil }
            return (m.rank, m.id)
        }
        let base = chars.startIndex
        merger.forEachSymbol { i, id in
            if id >= 0 { out.append(Int(id)) }
            else if byteFallback { for b in String(Character(chars[base + i])).utf8 { out.append(byteIDs[Int(b)] >= 0 ? byteIDs[Int(b)] : unknownID) } }
            else { out.append(unknownID) }
        }
    }

    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for (n, id) in ids.enumerated() where id >= 0 && id < pieces.count {
            switch types[id] {
            case .byte:
                if let v = UInt8(pieces[id].dropFirst(3).dropLast(), radix: 16) { out.append(v) }
            case .control, .unknown:
                continue
            default:
                var p = pieces[id].replacingSpaceMarks()
                if n == 0 && addDummyPrefix && p.first == " " { p.removeFirst() }
                out += Array(p.utf8)
            }
        }
        return out
    }
}

extension String {
    func replacingSpaceMarks() -> String { String(map { $0 == "\u{2581}" ? " " : $0 }) }
}
