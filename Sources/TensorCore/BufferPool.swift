#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Output buffers for a stream of tensors, recycled instead of allocated per tensor: a buffer
/// comes back to the pool when the last `ByteRegion` using it goes (for `quantize`, when the
/// write-behind job has written it), is kept (at most `keep` of them) and grows to the largest
/// request. Nothing is zeroed: `region(count:fill:)` is for a `fill` that writes every byte.
///
/// Why: a fresh zero-filled heap buffer per tensor cost a page fault and the kernel's page
/// clearing for every page, then a memset, all on the thread that hands out the work — a
/// serial tenth of a SmolLM2 quantization (272 tensors, most under 1 MiB).
public final class BufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [PoolMapping] = []
    private let keep: Int

    /// `keep`: how many idle buffers to hold (2 for one tensor being filled while one is written).
    public init(keep: Int = 2) { self.keep = keep }

    /// A buffer of `count` bytes filled by `fill`, which must write all of them (the bytes are
    /// whatever an earlier tensor left). Throws if memory cannot be mapped.
    public func region(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> ByteRegion {
        let mapping = try take(count)
        let lease = PoolLease(mapping, pool: self)
        let bytes = UnsafeMutableRawBufferPointer(start: mapping.base, count: count)
        try fill(bytes)
        return ByteRegion(owner: lease, bytes: UnsafeRawBufferPointer(bytes))
    }

    /// The largest idle mapping if it fits, else a new one (the too-small one is unmapped).
    private func take(_ count: Int) throws -> PoolMapping {
        let reused: PoolMapping? = lock.withLock {
            guard let i = free.indices.max(by: { free[$0].size < free[$1].size }) else { return nil }
            return free.remove(at: i)
        }
        if let reused, reused.size >= count { return reused }
        return try PoolMapping(bytes: count)
    }

    fileprivate func giveBack(_ m: PoolMapping) {
        lock.withLock {
            free.append(m)
            if free.count > keep, let i = free.indices.min(by: { free[$0].size < free[$1].size }) { free.remove(at: i) }
        }
    }

    /// Bytes held by idle buffers (for tests).
    public var idleBytes: Int { lock.withLock { free.reduce(0) { $0 + $1.size } } }
}

/// One anonymous mapping: from 2 MiB up rounded to 2 MiB and advised to use transparent huge
/// pages (a tensor's output is written front to back: one fault per 2 MiB instead of per 4 KiB),
/// below that rounded to 4 KiB pages (small buffers that stay alive, like the un-permuted q/k
/// weights of a small model, should not each take 2 MiB).
final class PoolMapping: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(bytes: Int) throws {
        let huge = 1 << 21, page = 1 << 12
        let unit = bytes >= huge ? huge : page
        let size = (max(bytes, 1) + unit - 1) / unit * unit
        let p = try Syscalls.mapAnonymous(size)
        if unit == huge { Syscalls.advise(p, size, .hugePages) }
        base = p
        self.size = size
    }

    deinit { Syscalls.unmap(base, size) }
}

/// Returns its mapping to the pool when the last region using it goes.
final class PoolLease: @unchecked Sendable {
    let mapping: PoolMapping
    let pool: BufferPool

    init(_ mapping: PoolMapping, pool: BufferPool) {
        self.mapping = mapping
        self.pool = pool
    }

    deinit { pool.giveBack(mapping) }
}
