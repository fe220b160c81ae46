/// Keys and values of past positions, per layer. With a sliding window of W the cache has W
/// slots and position p lives in slot p mod W, so memory stays bounded however long the
/// sequence; without a window it holds up to `capacity` positions. Rows are f32, or f16 (half
/// the memory and half the bytes read per decoded token, as llama.cpp keeps its cache).
public enum KVPrecision: String, Sendable, CaseIterable { case f32, f16 }

package final class RotatingKVCache {
    package let layers: Int
    package let slots: Int
    package let width: Int   // n_kv_heads × head_dim
    package let window: Int?
    /// Positions written so far (the next position to write).
    package private(set) var length = 0
    package let precision: KVPrecision
    /// Per layer, `slots` rows of `width` elements (grown on demand), raw f32 or f16 bytes.
    var keys: [[UInt8]]
    var values: [[UInt8]]
    var elementBytes: Int { precision == .f16 ? 2 : 4 }

    package init(layers: Int, kvWidth: Int, window: Int?, capacity: Int, precision: KVPrecision = .f32) {
        self.layers = layers
        self.precision = precision
        self.width = kvWidth
        self.window = window
        slots = window.map { min($0, capacity) } ?? capacity
        keys = Array(repeating: [], count: layers)
        values = keys
    }

    /// Memory the cache holds now, in bytes (it grows with the sequence, up to `slots` rows).
    package var bytes: Int { 2 * layers * (keys.first?.count ?? 0) }

    /// The oldest position a query at `position` may attend to.
    @inline(__always) package func firstVisible(_ position: Int) -> Int {
        window.map { max(0, position - $0 + 1) } ?? 0
    }

    @inline(__always) func slot(_ position: Int) -> Int { position % slots }

    /// Checks that positions up to `end` (exclusive) fit, and grows the storage (doubling, at
    /// most `slots` rows) so that every slot they use exists: memory follows the sequence
    /// length, not the capacity.
    func reserve(upTo end: Int) throws {
        if window == nil && end > slots { throw InferenceError.contextFull(position: end - 1, capacity: slots) }
        let rowBytes = width * elementBytes
        let have = (keys.first?.count ?? 0) / max(1, rowBytes)
        let need = min(end, slots)
        guard need > have else { return }
        let rows = min(slots, max(need, 2 * have, 64))
        for l in 0..<layers {
            keys[l].append(contentsOf: repeatElement(0, count: (rows - have) * rowBytes))
            values[l].append(contentsOf: repeatElement(0, count: (rows - have) * rowBytes))
        }
    }

    /// Stores a chunk's keys and values (`t` rows from `start`), after its attention is done.
    func store(layer: Int, start: Int, rows t: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let first = max(0, t - slots)  // only the last `slots` rows survive anyway
        let half = precision == .f16, eb = elementBytes
        keys[layer].withUnsafeMutableBytes { kb in
            values[layer].withUnsafeMutableBytes { vb in
                for r in first..<t {
                    let s = slot(start + r) * width * eb
                    if half {
                        Self.toHalf(k + r * width, kb.baseAddress! + s, width)
                        Self.toHalf(v + r * width, vb.baseAddress! + s, width)
                    } else {
                        (kb.baseAddress! + s).copyMemory(from: k + r * width, byteCount: width * 4)
                        (vb.baseAddress! + s).copyMemory(from: v + r * width, byteCount: width * 4)
                    }
                }
            }
        }
    }

    static func toHalf(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            out.storeBytes(of: SIMD8<Float16>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)), toByteOffset: 2 * i, as: SIMD8<Float16>.self)
            i += 8
        }
        while i < n { out.storeBytes(of: Float16(x[i]), toByteOffset: 2 * i, as: Float16.self); i += 1 }
    }

    func advance(to end: Int) { length = end }

    /// Forgets everything (a new sequence).
    package func reset() { length = 0 }
}
