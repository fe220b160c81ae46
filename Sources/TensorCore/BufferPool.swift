import Foundation

/// Buffers for a stream of tensors, recycled instead of mapped per tensor: a buffer comes back
/// to its pool when the last owner goes (for `quantize`, when the write-behind job has written
/// it), and at most `keep` idle ones are held. Unless the pool is `zeroed`, a reused buffer holds
/// whatever its last user left (debug builds: 0xFF bytes, new buffers too): `region(count:fill:)`
/// is then for a `fill` that writes every byte.
///
/// Why: a fresh zero-filled buffer per tensor cost a page fault and the kernel's page clearing
/// for every page, all on the thread that hands out the work — a serial tenth of a SmolLM2
/// quantization (272 tensors, most under 1 MiB). The owner of a stream owns its pool: nothing
/// is shared process-wide, and a buffer outliving its pool is simply unmapped.
package final class BufferPool: @unchecked Sendable {
    /// Which idle buffer a request may take.
    package enum Reuse: Sendable {
        /// The largest, if large enough (else it is unmapped and a new one mapped): for buffers
        /// released soon, as an output written then freed; once the largest tensor has passed,
        /// nothing is mapped again.
        case largest
        /// The smallest large enough, if at most twice the request's mapped length: for buffers
        /// that may stay alive (a decoded tensor held by a loaded model), which must not pin a
        /// much larger buffer's pages.
        case closeFit
    }

    private let lock = NSLock()
    private var free: [AnonymousMapping] = []
    private let keep: Int
    private let zeroed: Bool
    private let reuse: Reuse

    /// `keep`: how many idle buffers to hold (2 for one tensor being filled while one is written).
    /// `zeroed`: every buffer handed out reads as zeros (a reused one is cleared).
    package init(keep: Int = 2, zeroed: Bool = false, reuse: Reuse = .largest) {
        self.keep = keep
        self.zeroed = zeroed
        self.reuse = reuse
    }

    /// A buffer of `count` bytes, back in the pool when the returned object goes. Throws if
    /// memory cannot be mapped.
    package func buffer(count: Int) throws(IOError) -> PooledBuffer {
        let mapping: AnonymousMapping
        if let reused = takeIdle(count) {
            mapping = reused
            if zeroed { mapping.bytes(count).initializeMemory(as: UInt8.self, repeating: 0) }
        } else {
            mapping = try AnonymousMapping(bytes: count)   // the kernel's pages are zero
        }
        #if DEBUG
        // Debug builds (the tests) hand out every non-zeroed buffer, new or reused, filled with
        // 0xFF (NaN in f32, f16 and bf16), so a fill that leaves bytes unwritten fails a test on
        // its first use instead of passing on fresh zero pages and going wrong on reuse.
        if !zeroed { mapping.bytes(count).initializeMemory(as: UInt8.self, repeating: 0xFF) }
        #endif
        return PooledBuffer(mapping, count: count, pool: self)
    }

    /// A buffer of `count` bytes filled by `fill`, as a region (see the pool's note on zeroing).
    package func region(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> ByteRegion {
        let buffer = try buffer(count: count)
        try fill(buffer.mutableBytes)
        return ByteRegion(owner: buffer, bytes: UnsafeRawBufferPointer(buffer.mutableBytes))
    }

    /// An idle mapping of at least `count` bytes that `reuse` allows, taken out of the pool.
    private func takeIdle(_ count: Int) -> AnonymousMapping? {
        lock.withLock {
            switch reuse {
            case .largest:
                guard let i = free.indices.max(by: { free[$0].size < free[$1].size }) else { return nil }
                let m = free.remove(at: i)   // too small: unmapped as it goes
                return m.size >= count ? m : nil
            case .closeFit:
                guard let want = AnonymousMapping.length(for: count) else { return nil }
                let fits = free.indices.filter { free[$0].size >= count && free[$0].size - want <= want }
                guard let i = fits.min(by: { free[$0].size < free[$1].size }) else { return nil }
                return free.remove(at: i)
            }
        }
    }

    fileprivate func giveBack(_ m: AnonymousMapping) {
        lock.withLock {
            free.append(m)
            if free.count > keep, let i = free.indices.min(by: { free[$0].size < free[$1].size }) { free.remove(at: i) }
        }
    }

    /// Bytes held by idle buffers (for tests).
    package var idleBytes: Int { lock.withLock { free.reduce(0) { $0 + $1.size } } }
}

/// A buffer taken from a `BufferPool`: its mapping goes back to the pool when this goes, or is
/// unmapped if the pool has gone.
package final class PooledBuffer: @unchecked Sendable {
    package let mutableBytes: UnsafeMutableRawBufferPointer
    private let mapping: AnonymousMapping
    private weak var pool: BufferPool?

    fileprivate init(_ mapping: AnonymousMapping, count: Int, pool: BufferPool) {
        self.mapping = mapping
        self.pool = pool
        mutableBytes = mapping.bytes(count)
    }

    deinit { pool?.giveBack(mapping) }
}
