/// Keys and values of past positions, per layer. With a sliding window of W the cache has W
/// slots and position p lives in slot p mod W, so memory stays bounded however long the
/// sequence; without a window it holds up to `capacity` positions.
public final class RotatingKVCache {
    public let layers: Int
    public let slots: Int
    public let width: Int   // n_kv_heads × head_dim
    public let window: Int?
    /// Positions written so far (the next position to write).
    public private(set) var length = 0
    var keys: [[Float]]
    var values: [[Float]]

    public init(layers: Int, kvWidth: Int, window: Int?, capacity: Int) {
        self.layers = layers
        self.width = kvWidth
        self.window = window
        slots = window.map { min($0, capacity) } ?? capacity
        keys = Array(repeating: [], count: layers)
        values = keys
    }

    /// Memory the cache holds now, in bytes (it grows with the sequence, up to `slots` rows).
    public var bytes: Int { 2 * layers * (keys.first?.count ?? 0) * 4 }

    /// The oldest position a query at `position` may attend to.
    @inline(__always) public func firstVisible(_ position: Int) -> Int {
        window.map { max(0, position - $0 + 1) } ?? 0
    }

    @inline(__always) func slot(_ position: Int) -> Int { position % slots }

    /// Checks that positions up to `end` (exclusive) fit, and grows the storage (doubling, at
    /// most `slots` rows) so that every slot they use exists: memory follows the sequence
    /// length, not the capacity.
    func reserve(upTo end: Int) throws {
        if window == nil && end > slots { throw InferenceError.contextFull(position: end - 1, capacity: slots) }
        let have = (keys.first?.count ?? 0) / max(1, width)
        let need = min(end, slots)
        guard need > have else { return }
        let rows = min(slots, max(need, 2 * have, 64))
        for l in 0..<layers {
            keys[l].append(contentsOf: repeatElement(0, count: (rows - have) * width))
            values[l].append(contentsOf: repeatElement(0, count: (rows - have) * width))
        }
    }

    /// Stores a chunk's keys and values (`t` rows from `start`), after its attention is done.
    func store(layer: Int, start: Int, rows t: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let first = max(0, t - slots)  // only the last `slots` rows survive anyway
        keys[layer].withUnsafeMutableBufferPointer { kb in
            values[layer].withUnsafeMutableBufferPointer { vb in
                for r in first..<t {
                    let s = slot(start + r) * width
                    (kb.baseAddress! + s).update(from: k + r * width, count: width)
                    (vb.baseAddress! + s).update(from: v + r * width, count: width)
                }
            }
        }
    }

    func advance(to end: Int) { length = end }

    /// Forgets everything (a new sequence).
    public func reset() { length = 0 }
}
