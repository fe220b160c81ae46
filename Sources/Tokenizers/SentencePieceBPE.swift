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
    let unknownID: Int
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let byteFallback: Bool
    let mergeable: [String: Int]     // normal and user-defined pieces
    /// (left id, right id) → (merged id, its score): every mergeable piece that is the
    /// concatenation of two mergeable pieces, so merging works on ids, not strings.
    let merges: [UInt64: (id: Int32, score: Float)]
    /// Single-code-point pieces by scalar value: the starting symbols.
    let scalarIDs: [UInt32: Int32]
    /// True when no piece has ▁ after another character (Mistral's vocabularies): then no merge
    /// crosses a word start, and each word is merged on its own (same result, a small heap).
    let wordsAreIndependent: Bool
    let byteIDs: [Int]               // byte value → id of <0xXX>

    public init(model bytes: [UInt8]) throws {
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
                    case (3, 0): type = PieceType(rawValue: Int(try p.varint())) ?? .normal
                    default: try p.skip(wireType: w)
                    }
                }
                pieces.append(piece); scores.append(score); types.append(type)
            case (2, 2):
                let range = try r.lengthDelimited()
                var t = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
                while !t.isAtEnd {
                    let (f, w) = try t.tag()
                    if f == 3 && w == 0 { modelType = Int(try t.varint()) }
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
        var mergeable: [String: Int] = [:]
        var byteIDs = [Int](repeating: -1, count: 256)
        for (i, p) in pieces.enumerated() {
            switch types[i] {
            case .normal, .userDefined: if mergeable[p] == nil { mergeable[p] = i }
            case .byte:
                if p.hasPrefix("<0x"), p.hasSuffix(">"), let v = UInt8(p.dropFirst(3).dropLast(), radix: 16) { byteIDs[Int(v)] = i }
            default: break
            }
        }
        self.mergeable = mergeable
        self.byteIDs = byteIDs
        var merges: [UInt64: (id: Int32, score: Float)] = [:]
        for (piece, id) in mergeable {
            let chars = Array(piece)
            guard chars.count > 1 else { continue }
            for cut in 1..<chars.count {
                guard let a = mergeable[String(chars[..<cut])], let b = mergeable[String(chars[cut...])] else { continue }
                merges[UInt64(a) << 32 | UInt64(b)] = (Int32(id), scores[id])
            }
        }
        self.merges = merges
        var scalarIDs: [UInt32: Int32] = [:]
        for (piece, id) in mergeable where piece.unicodeScalars.count == 1 {
            if let scalar = piece.unicodeScalars.first { scalarIDs[scalar.value] = Int32(id) }
        }
        self.scalarIDs = scalarIDs
        wordsAreIndependent = !mergeable.keys.contains { p in
            let u = Array(p.unicodeScalars)
            return u.indices.dropFirst().contains { u[$0] == "\u{2581}" && u[$0 - 1] != "\u{2581}" }
        }
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
        guard wordsAreIndependent else { encode(chars[...], into: &out); return out }
        var start = 0
        for i in 1..<chars.count where chars[i] == "\u{2581}" && chars[i - 1] != "\u{2581}" {
            encode(chars[start..<i], into: &out)
            start = i
        }
        encode(chars[start...], into: &out)
        return out
    }

    /// sentencepiece's BPE over one run of code points.
    func encode(_ chars: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        // Symbols as ids in a doubly linked list (−1: a character that is no piece, which can
        // never merge); candidate merges in a max-heap keyed by score, then position.
        var sym = chars.map { scalarIDs[$0.value] ?? -1 }
        let n = sym.count
        guard n > 0 else { return }
        var prev = Array(-1..<(n - 1)), next = Array(1...n)
        next[n - 1] = -1
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        func push(_ l: Int) {
            let r = next[l]
            guard l >= 0, r >= 0, sym[l] >= 0, sym[r] >= 0, let m = merges[UInt64(UInt32(sym[l])) << 32 | UInt64(UInt32(sym[r]))] else { return }
            heap.push(.init(score: m.score, left: l, leftID: sym[l], rightID: sym[r], merged: m.id))
        }
        for i in 0..<(n - 1) { push(i) }
        while let c = heap.pop() {
            let l = c.left, r = next[l]
            // Stale candidate: either side changed since it was pushed.
            guard alive[l], r >= 0, sym[l] == c.leftID, sym[r] == c.rightID else { continue }
            sym[l] = c.merged
            alive[r] = false
            next[l] = next[r]
            if next[r] >= 0 { prev[next[r]] = l }
            if prev[l] >= 0 { push(prev[l]) }
            push(l)
        }
        var i = 0
        let base = chars.startIndex
        while i >= 0 {
            if sym[i] >= 0 { out.append(Int(sym[i])) }
            else if byteFallback { for b in String(Character(chars[base + i])).utf8 { out.append(byteIDs[Int(b)] >= 0 ? byteIDs[Int(b)] : unknownID) } }
            else { out.append(unknownID) }
            i = next[i]
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

/// A binary max-heap of merge candidates: highest score first, then leftmost.
struct MergeHeap {
    struct Candidate {
        let score: Float
        let left: Int
        let leftID: Int32
        let rightID: Int32
        let merged: Int32
        func before(_ o: Candidate) -> Bool { score > o.score || (score == o.score && left < o.left) }
    }
    var items: [Candidate] = []

    mutating func push(_ c: Candidate) {
        items.append(c)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].before(items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Candidate? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l].before(items[m]) { m = l }
                if r < items.count && items[r].before(items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
