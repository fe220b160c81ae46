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
        keys = Array(repeating: [Float](repeating: 0, count: slots * kvWidth), count: layers)
        values = keys
    }

    /// Memory the cache holds, in bytes.
    public var bytes: Int { 2 * layers * slots * width * 4 }

    /// The oldest position a query at `position` may attend to.
    @inline(__always) public func firstVisible(_ position: Int) -> Int {
        window.map { max(0, position - $0 + 1) } ?? 0
    }

    @inline(__always) func slot(_ position: Int) -> Int { position % slots }

    /// Checks that positions up to `end` (exclusive) fit.
    func reserve(upTo end: Int) throws {
        if window == nil && end > slots { throw InferenceError.contextFull(position: end - 1, capacity: slots) }
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
