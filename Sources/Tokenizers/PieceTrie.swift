/// A trie over pieces as Unicode scalars, so that all the pieces that are prefixes of a given
/// piece are found in one walk along it. SentencePiece's merge table (every pair of pieces
/// whose concatenation is a piece) is built from two of them, one over the pieces and one over
/// the pieces reversed, in time linear in the vocabulary's total length; cutting each piece at
/// every position and looking both halves up is quadratic in a piece's length.
struct PieceTrie {
    /// (node << 32 | scalar) → child node; node 0 is the root.
    private var children: [UInt64: Int32] = [:]
    /// The id of the piece ending at each node, or −1.
    private var terminal: [Int32] = [-1]
    /// Nodes visited by `insert` and `prefixIDs`, so tests can hold the build linear.
    private(set) var steps = 0

    init(capacity: Int) {
        children.reserveCapacity(capacity)
        terminal.reserveCapacity(capacity + 1)
    }

    @inline(__always) private static func key(_ node: Int32, _ s: UInt32) -> UInt64 { UInt64(UInt32(bitPattern: node)) << 32 | UInt64(s) }

    /// Adds a piece; the first id given for a scalar sequence wins (as a dictionary of pieces
    /// filled in id order would keep it). Returns whether it was new.
    @discardableResult
    mutating func insert<S: Sequence>(_ scalars: S, id: Int32) -> Bool where S.Element == UInt32 {
        var node: Int32 = 0
        for s in scalars {
            steps += 1
            let k = Self.key(node, s)
            if let c = children[k] { node = c } else {
                let c = Int32(terminal.count)
                terminal.append(-1)
                children[k] = c
                node = c
            }
        }
        guard terminal[Int(node)] < 0 else { return false }
        terminal[Int(node)] = id
        return true
    }

    /// For each length d = 1…count of the walk along `scalars`, the id of the piece that is the
    /// first d scalars (or −1), written to `ids[d - 1]`; stops where no piece continues.
    mutating func prefixIDs<S: Sequence>(_ scalars: S, into ids: inout [Int32]) where S.Element == UInt32 {
        ids.removeAll(keepingCapacity: true)
        var node: Int32 = 0
        for s in scalars {
            steps += 1
            guard let c = children[Self.key(node, s)] else { break }
            node = c
            ids.append(terminal[Int(node)])
        }
    }
}
