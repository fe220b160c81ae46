#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A whole file mapped read-only (`mmap(2)`, `MAP_PRIVATE`). Tensors are views into it, so
/// opening a checkpoint reads only headers; pages are faulted in when a tensor is used.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(IOError) {
        self.path = path
        let (fd, size) = try Syscalls.openForReading(path)
        defer { Syscalls.closeQuietly(fd) }
        self.size = size
        if size == 0 {
            base = nil
            return
        }
        base = try Syscalls.mapFile(fd, size: size, path: path)
    }

    deinit {
        if let base { Syscalls.unmap(base, size) }
    }

    /// All bytes of the file.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    /// A region of the file; the caller has checked that it lies inside.
    public func region(offset: Int, count: Int) -> ByteRegion {
        precondition(offset >= 0 && count >= 0 && offset <= size - count, "region outside the mapped file")
        return ByteRegion(owner: self, bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
    }

    /// Drops the resident pages of a range (`madvise(MADV_DONTNEED)`); a later read faults them
    /// in again from the file. Streaming passes call this so that resident memory stays about
    /// one tensor, not the whole file.
    public func dropPages(offset: Int, count: Int) { advise(offset: offset, count: count, .dontNeed) }

    /// Asks the kernel to read a range ahead now (`madvise(MADV_WILLNEED)`), so a first pass over
    /// a file that is not in the page cache waits for large reads, not for a fault per page.
    public func willNeed(offset: Int, count: Int) { advise(offset: offset, count: count, .willNeed) }

    /// `Syscalls.advise` over a range of the file, widened down to a page boundary and cut at the end.
    private func advise(offset: Int, count: Int, _ advice: Syscalls.Advice) {
        guard let base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let end = min(size, offset + count)
        guard end > start else { return }
        Syscalls.advise(base + start, end - start, advice)
    }

    /// Tells the kernel the file will be read front to back (`madvise(MADV_SEQUENTIAL)`).
    public func adviseSequential() {
        if let base { Syscalls.advise(base, size, .sequential) }
    }
}

/// Bytes kept alive by their owner: a mapped file or a heap buffer.
public struct ByteRegion: @unchecked Sendable {
    public let owner: AnyObject
    public let bytes: UnsafeRawBufferPointer

    public init(owner: AnyObject, bytes: UnsafeRawBufferPointer) {
        self.owner = owner
        self.bytes = bytes
    }

    public var count: Int { bytes.count }

    /// Runs `body` with the bytes while guaranteeing the owner stays alive. Prefer this to
    /// `bytes` whenever the region is a temporary: ARC may free an owner right after its last
    /// use, which can come before the last use of a pointer taken from it.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(bytes) }
    }

    /// If these bytes are a mapped file's, drops their resident pages (see `MappedFile.dropPages`).
    public func dropPages() {
        guard let file = owner as? MappedFile, let p = bytes.baseAddress, let b = file.bytes.baseAddress else { return }
        file.dropPages(offset: p - b, count: bytes.count)
    }

    /// If these bytes are a mapped file's, has the kernel read them ahead (see `MappedFile.willNeed`).
    public func willNeed() {
        guard let file = owner as? MappedFile, let p = bytes.baseAddress, let b = file.bytes.baseAddress else { return }
        file.willNeed(offset: p - b, count: bytes.count)
    }

    /// Rows `rows` of these bytes taken as `total` equal rows (same owner).
    public func rows(_ rows: Range<Int>, of total: Int) -> ByteRegion {
        guard total > 0 else { return self }
        let per = bytes.count / total
        return ByteRegion(owner: owner, bytes: UnsafeRawBufferPointer(rebasing: bytes[(rows.lowerBound * per)..<(rows.upperBound * per)]))
    }

    /// A copy of the bytes as an array.
    public var array: [UInt8] { withBytes { Array($0) } }

    /// A fresh heap buffer of `count` zeroed bytes, filled by `fill`.
    public static func allocate(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> ByteRegion {
        let owned = try OwnedBytes(count: count)
        try fill(owned.mutableBytes)
        return ByteRegion(owner: owned, bytes: UnsafeRawBufferPointer(owned.mutableBytes))
    }

    /// A copy of `data` on the heap.
    public static func copying(_ data: UnsafeRawBufferPointer) throws -> ByteRegion {
        try allocate(count: data.count) { dst in
            if let s = data.baseAddress, let d = dst.baseAddress { d.copyMemory(from: s, byteCount: data.count) }
        }
    }
}

/// A zero-filled, 64-byte aligned allocation, freed when the last `ByteRegion` using it goes.
/// Large buffers come from `mmap(MAP_ANONYMOUS)`, page-aligned, and go back to a small
/// `MappingCache` when freed: a quantization allocates an output buffer per tensor, and fresh
/// pages cost a fault and the kernel's zeroing each (`clear_page_erms`, 3–15% of a run's samples
/// here), where clearing a reused buffer is a plain memset.
public final class OwnedBytes: @unchecked Sendable {
    public let mutableBytes: UnsafeMutableRawBufferPointer
    private let base: UnsafeMutableRawPointer
    private let mapped: Int

    static let mapThreshold = 1 << 20

    /// Throws, instead of trapping as a failed heap allocation would, when `count` bytes cannot
    /// be mapped (a size a file declared but does not hold, say).
    public init(count: Int) throws(IOError) {
        guard count >= 0 else { throw IOError("cannot allocate", path: "\(count) bytes", errno: EINVAL) }
        if count >= OwnedBytes.mapThreshold, let (p, size) = MappingCache.shared.take(count) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: count)
            base = p
            mapped = size
        } else if count >= OwnedBytes.mapThreshold {
            let p = try Syscalls.mapAnonymous(count)
            base = p
            mapped = count
            // 2 MiB pages where the kernel allows them: a large buffer is written once front to
            // back, and 4 KiB pages cost a fault each.
            Syscalls.advise(p, count, .hugePages)
        } else {
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            base = raw.baseAddress!
            mapped = 0
        }
        mutableBytes = UnsafeMutableRawBufferPointer(start: base, count: count)
    }

    deinit {
        if mapped > 0 {
            if !MappingCache.shared.give(base, mapped) { Syscalls.unmap(base, mapped) }
        } else {
            base.deallocate()
        }
    }
}

/// Freed large anonymous mappings kept for the next `OwnedBytes`: at most 4, 1 GiB in all,
/// each reused only for a request of at least half its size (so a small buffer does not pin a
/// large one).
final class MappingCache: @unchecked Sendable {
    static let shared = MappingCache()
    private let lock = NSLock()
    private var free: [(UnsafeMutableRawPointer, Int)] = []
    private let maxEntries = 4
    private let maxBytes = 1 << 30

    /// A cached mapping of at least `count` bytes (the smallest that fits), and its size.
    func take(_ count: Int) -> (UnsafeMutableRawPointer, Int)? {
        lock.lock(); defer { lock.unlock() }
        var best: Int?
        for (i, m) in free.enumerated() where m.1 >= count && m.1 <= 2 * count {
            if best.map({ m.1 < free[$0].1 }) ?? true { best = i }
        }
        guard let best else { return nil }
        return free.remove(at: best)
    }

    /// Unmaps every cached mapping.
    func drain() {
        lock.lock(); defer { lock.unlock() }
        for (p, size) in free { Syscalls.unmap(p, size) }
        free.removeAll()
    }

    /// Keeps the mapping if there is room; false: the caller unmaps it.
    func give(_ p: UnsafeMutableRawPointer, _ size: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        let held = free.reduce(0) { $0 + $1.1 }
        guard free.count < maxEntries, held + size <= maxBytes else { return false }
        free.append((p, size))
        return true
    }
}
