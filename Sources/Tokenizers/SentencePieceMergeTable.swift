/// What SentencePiece BPE merges with, built from a model's pieces: the single-code-point
/// pieces that text starts as, and every pair of mergeable (normal or user-defined) pieces whose
/// concatenation is a mergeable piece, so merging works on ids, not strings. Pieces are compared
/// as code points, as sentencepiece compares them (by bytes, never canonically); the first id of
/// a sequence wins.
///
/// Each piece is walked once through a trie of the pieces (its prefixes that are pieces) and once
/// through a trie of the reversed pieces (its suffixes that are pieces): linear in the total
/// length of the pieces, however long one piece is.
struct SentencePieceMergeTable {
    /// (left id, right id) → (merged id, its rank), the rank ordering scores from high to low.
    let merges: [UInt64: (id: Int32, rank: UInt32)]
    /// Single-code-point pieces by scalar value.
    let scalarIDs: [UInt32: Int32]
    /// Whether a mergeable piece has ▁ after another character (then a merge may cross a word start).
    let mergesAcrossWords: Bool
    /// Trie steps the build took: at most 4 × the mergeable pieces' total length.
    let trieSteps: Int

    init(pieces: [String], scores: [Float], types: [SentencePieceBPE.PieceType]) {
        let scalars = pieces.map { $0.unicodeScalars.map(\.value) }
        let total = scalars.reduce(0) { $0 + $1.count }
        var forward = PieceTrie(capacity: total), backward = PieceTrie(capacity: total)
        var mergeable: [Int] = []
        var scalarIDs: [UInt32: Int32] = [:]
        for (i, u) in scalars.enumerated() where (types[i] == .normal || types[i] == .userDefined) && !u.isEmpty {
            guard forward.insert(u, id: Int32(i)) else { continue }
            backward.insert(u.reversed(), id: Int32(i))
            mergeable.append(i)
            if u.count == 1 { scalarIDs[u[0]] = Int32(i) }
        }
        var merges: [UInt64: (id: Int32, rank: UInt32)] = [:]
        var prefixes: [Int32] = [], suffixes: [Int32] = []
        var acrossWords = false
        for id in mergeable {
            let u = scalars[id]
            guard u.count > 1 else { continue }
            forward.prefixIDs(u, into: &prefixes)               // prefixes[d - 1]: the piece u[..<d], or −1
            backward.prefixIDs(u.reversed(), into: &suffixes)   // suffixes[d - 1]: the piece u[(count - d)...], or −1
            guard prefixes.count == u.count, suffixes.count == u.count else { continue }   // both walks follow u to its end
            for cut in 1..<u.count {
                let a = prefixes[cut - 1], b = suffixes[u.count - cut - 1]
                if a >= 0 && b >= 0 { merges[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] = (Int32(id), Self.rank(score: scores[id])) }
                if u[cut] == 0x2581 && u[cut - 1] != 0x2581 { acrossWords = true }
            }
        }
        self.merges = merges
        self.scalarIDs = scalarIDs
        mergesAcrossWords = acrossWords
        trieSteps = forward.steps + backward.steps
    }

    /// A score as a rank for `PairMerge`, which takes the lowest first: the float order
    /// reversed, as an integer (−0 and +0 equal, as they compare; scores are never NaN).
    static func rank(score: Float) -> UInt32 {
        let bits = (score + 0).bitPattern
        let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return ~ascending
    }
}
