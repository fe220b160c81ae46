/// A row's last < 8 blocks, searched eight at a time with other rows' instead of one by one:
/// a row of SmolLM2 (576 columns) is two groups of 8 blocks and two blocks more, and the
/// one-block search cost twice as much per block as the 8-lane one. Each gathered block keeps
/// its own row's s2 (per lane) and importance columns, and lanes never mix, so a block gets
/// the same levels whichever blocks it was gathered with (any thread count, any task split).
final class TailGather {
    let format: any EightBlockSearch.Type
    let blockSize: Int
    let blockBytes: Int
    private let values: UnsafeMutablePointer<Float>
    private let columns: UnsafeMutablePointer<Float>?
    private let out: UnsafeMutableRawPointer
    private var s2 = SIMD8<Float>()
    private var destinations = [UnsafeMutableRawPointer?](repeating: nil, count: 8)
    private var count = 0

    init(format: any EightBlockSearch.Type, imatrix: Bool) {
        self.format = format
        blockSize = format.dtype.blockSize
        blockBytes = format.dtype.blockBytes
        values = .allocate(capacity: 8 * blockSize)
        columns = imatrix ? .allocate(capacity: 8 * blockSize) : nil
        out = .allocate(byteCount: 8 * blockBytes, alignment: 64)
    }

    deinit {
        values.deallocate()
        columns?.deallocate()
        out.deallocate()
    }

    /// Queues one block (its values, importance columns and row s2) to be written at `dst`.
    func add(_ x: UnsafePointer<Float>, columns c: UnsafePointer<Float>?, s2 rowS2: Float, into dst: UnsafeMutableRawPointer) {
        (values + count * blockSize).update(from: x, count: blockSize)
        if let columns, let c { (columns + count * blockSize).update(from: c, count: blockSize) }
        s2[count] = rowS2
        destinations[count] = dst
        count += 1
        if count == 8 { flush() }
    }

    /// Searches the queued blocks (the empty lanes hold zeros: all-zero blocks) and writes them.
    func flush() {
        guard count > 0 else { return }
        if count < 8 {
            (values + count * blockSize).update(repeating: 0, count: (8 - count) * blockSize)
            columns.map { ($0 + count * blockSize).update(repeating: 1, count: (8 - count) * blockSize) }
            for b in count..<8 { s2[b] = 0 }
        }
        format.quantize8(values, importance: RowImportance(laneS2: s2, columns: columns.map { UnsafePointer($0) }), into: out)
        for b in 0..<count { destinations[b]?.copyMemory(from: out + b * blockBytes, byteCount: blockBytes) }
        count = 0
    }
}
