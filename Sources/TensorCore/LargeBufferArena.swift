import Foundation

/// Memory for large resident data (repacked weights): 64-byte-aligned pieces of shared
/// `AnonymousMapping`s of 32 MiB (or one of its own for a bigger request), so many small
/// matrices do not each round up to 2 MiB. Every mapping here is at least 2 MiB, hence
/// 2 MiB-aligned and advised to use transparent huge pages: weights streamed once per token then
/// cost a TLB miss per 2 MiB instead of per 4 KiB (Q4_0 decoding on SmolLM2 depends on it).
package final class LargeBufferArena: @unchecked Sendable {
    private let lock = NSLock()
    private var current: AnonymousMapping?
    private var used = 0
    static let chunk = 32 << 20

    package init() {}

    /// A piece of `bytes` bytes and the mapping that owns it (keep it alive while in use); nil
    /// if the memory cannot be mapped.
    package func allocate(_ bytes: Int) -> (UnsafeMutableRawPointer, AnonymousMapping)? {
        lock.lock(); defer { lock.unlock() }
        guard bytes >= 0, bytes <= Int.max - 63 else { return nil }
        let size = (bytes + 63) / 64 * 64
        if size > Self.chunk / 4 {
            guard let own = try? AnonymousMapping(bytes: size) else { return nil }   // > 8 MiB: 2 MiB-aligned
            return (own.base, own)
        }
        if current.map({ used + size > $0.size }) ?? true {
            guard let fresh = try? AnonymousMapping(bytes: Self.chunk) else { return nil }
            current = fresh
            used = 0
        }
        guard let mapping = current else { return nil }
        defer { used += size }
        return (mapping.base + used, mapping)
    }
}
