/// The byte-pair merge all three tokenizers share: repeatedly join the adjacent pair of lowest
/// rank, leftmost on ties. Symbols live in a linked list and candidate pairs in a binary heap
/// ordered by (rank, left position); a candidate made stale by an earlier merge is dropped when
/// it comes off the heap (lazy invalidation, as in Hugging Face tokenizers' `Word::merge_all`
/// and sentencepiece's bpe_model.cc). Each merge pushes at most two candidates, so a piece of
/// n symbols costs at most 3n look-ups and O(n log n) time, where rescanning every pair after
/// each merge (tiktoken's and GPT-2's loop) is quadratic on a long piece such as 20 KB of one
/// letter. Short pieces skip the heap (`scanLimit`).
///
/// A candidate (l, r) is still valid when popped if neither symbol has changed since it was
/// pushed. `next` only ever grows and a removed symbol's `next` becomes −1, so
/// `next[l] == r && next[r] == rightNext` says exactly that.
///
/// One value serves many pieces: `load` reuses the buffers.
struct PairMerge {
    struct Candidate {
        let rank: UInt32
        let left: Int
        let right: Int
        let rightNext: Int
        let merged: Int32
        @inline(__always) func before(_ o: Candidate) -> Bool { rank < o.rank || (rank == o.rank && left < o.left) }
    }

    /// The symbols' ids by position; after `run`, the live ones are 0, next[0], next[next[0]], …
    private(set) var symbols: [Int32] = []
    /// The next live position (`count` after the last; −1 once merged away).
    private(set) var next: [Int] = []
    private var prev: [Int] = []
    private var heap: [Candidate] = []
    private var scanRank: [UInt32] = [], scanMerged: [Int32] = []
    /// Work done since `load`, so tests can hold the bound without timing anything.
    private(set) var lookups = 0
    private(set) var merges = 0
    private(set) var pops = 0

    var count: Int { symbols.count }

    /// Starts a piece: clears the buffers, keeping their capacity.
    mutating func load() {
        symbols.removeAll(keepingCapacity: true)
        lookups = 0; merges = 0; pops = 0
    }

    mutating func append(_ id: Int32) { symbols.append(id) }

    /// Pieces up to this many symbols are merged by scanning cached pair ranks (tiktoken's loop,
    /// with a rank look-up only for the pairs a merge creates): for the short pieces of ordinary
    /// text that beats the heap's bookkeeping, and the scan costs at most n² / 2 comparisons.
    /// (A variable so tests can run either way on the same input.)
    var scanLimit = 24

    /// Merges the loaded symbols. `pair(leftID, rightID, leftPosition, end)` gives the rank
    /// (below `UInt32.max`) and merged id of joining the live symbols starting at `leftPosition`
    /// (whose right partner ends where the symbol at `end` starts, or at `count`), or nil if
    /// they do not merge.
    @inline(__always)
    mutating func run(_ pair: (Int32, Int32, Int, Int) -> (rank: UInt32, merged: Int32)?) {
        let n = symbols.count
        guard n > 1 else { return }
        next.removeAll(keepingCapacity: true)
        for i in 0..<n { next.append(i + 1) }
        if n <= scanLimit { runByScan(n, pair) } else { runByHeap(n, pair) }
    }

    @inline(__always)
    private mutating func runByScan(_ n: Int, _ pair: (Int32, Int32, Int, Int) -> (rank: UInt32, merged: Int32)?) {
        // rank[l] / merged[l]: the pair the live symbol at l makes with the next one (UInt32.max: none).
        scanRank.removeAll(keepingCapacity: true)
        scanMerged.removeAll(keepingCapacity: true)
        func lookUp(_ l: Int, _ r: Int) -> (rank: UInt32, merged: Int32) {
            lookups += 1
            return pair(symbols[l], symbols[r], l, next[r]) ?? (.max, -1)
        }
        for i in 0..<(n - 1) {
            let m = lookUp(i, i + 1)
            scanRank.append(m.rank)
            scanMerged.append(m.merged)
        }
        scanRank.append(.max)
        scanMerged.append(-1)
        while true {
            var best = UInt32.max, at = -1, before = -1, previous = -1, i = 0
            while i < n {
                if scanRank[i] < best { best = scanRank[i]; at = i; before = previous }
                previous = i
                i = next[i]
            }
            guard at >= 0 else { return }
            merges += 1
            let r = next[at], rn = next[r]
            symbols[at] = scanMerged[at]
            next[at] = rn
            next[r] = -1
            (scanRank[at], scanMerged[at]) = rn < n ? lookUp(at, rn) : (.max, -1)
            if before >= 0 { (scanRank[before], scanMerged[before]) = lookUp(before, at) }
        }
    }

    @inline(__always)
    private mutating func runByHeap(_ n: Int, _ pair: (Int32, Int32, Int, Int) -> (rank: UInt32, merged: Int32)?) {
        prev.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for i in 0..<n { prev.append(i - 1) }
        func push(_ l: Int, _ r: Int) {
            lookups += 1
            let rn = next[r]
            guard let m = pair(symbols[l], symbols[r], l, rn) else { return }
            heap.append(Candidate(rank: m.rank, left: l, right: r, rightNext: rn, merged: m.merged))
            siftUp(heap.count - 1)
        }
        for i in 0..<(n - 1) { push(i, i + 1) }
        while let c = popFirst() {
            let l = c.left, r = c.right
            guard next[l] == r, next[r] == c.rightNext else { continue }
            merges += 1
            symbols[l] = c.merged
            let rn = c.rightNext
            next[l] = rn
            next[r] = -1
            if rn < n { prev[rn] = l; push(l, rn) }
            if prev[l] >= 0 { push(prev[l], l) }
        }
    }

    /// The live symbols' ids in order.
    func forEachSymbol(_ body: (Int, Int32) -> Void) {
        var i = 0
        while i < symbols.count {
            body(i, symbols[i])
            i = symbols.count > 1 ? next[i] : symbols.count
        }
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        let c = heap[i]
        while i > 0 {
            let p = (i - 1) / 2
            guard c.before(heap[p]) else { break }
            heap[i] = heap[p]
            i = p
        }
        heap[i] = c
    }

    private mutating func popFirst() -> Candidate? {
        guard let top = heap.first else { return nil }
        pops += 1
        let last = heap.removeLast()
        let n = heap.count
        if n > 0 {
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                let r = l + 1
                let m = r < n && heap[r].before(heap[l]) ? r : l
                guard heap[m].before(last) else { break }
                heap[i] = heap[m]
                i = m
            }
            heap[i] = last
        }
        return top
    }
}
