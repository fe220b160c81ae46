#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A whole file mapped read-only (`mmap(2)`, `MAP_PRIVATE`). Tensors are views into it, so
/// opening a checkpoint reads only headers; pages are faulted in when a tensor is used.
package final class MappedFile: @unchecked Sendable {
    package let path: String
    package let size: Int
    private let base: UnsafeMutableRawPointer?

    package init(path: String) throws(IOError) {
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
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    /// A region of the file; the caller has checked that it lies inside.
    package func region(offset: Int, count: Int) -> ByteRegion {
        precondition(offset >= 0 && count >= 0 && offset <= size - count, "region outside the mapped file")
        return ByteRegion(owner: self, bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
    }

    /// Drops the resident pages of a range (`madvise(MADV_DONTNEED)`); a later read faults them
    /// in again from the file. Streaming passes call this so that resident memory stays about
    /// one tensor, not the whole file.
    package func dropPages(offset: Int, count: Int) { advise(offset: offset, count: count, .dontNeed) }

    /// Asks the kernel to read a range ahead now (`madvise(MADV_WILLNEED)`), so a first pass over
    /// a file that is not in the page cache waits for large reads, not for a fault per page.
    package func willNeed(offset: Int, count: Int) { advise(offset: offset, count: count, .willNeed) }

    /// `Syscalls.advise` over a range of the file, widened down to a page boundary and cut at the end.
    private func advise(offset: Int, count: Int, _ advice: Syscalls.Advice) {
        guard let base, count > 0 else { return }
        let page = Syscalls.pageSize
        let start = offset / page * page
        let end = min(size, offset + count)
        guard end > start else { return }
        Syscalls.advise(base + start, end - start, advice)
    }

    /// Tells the kernel the file will be read front to back (`madvise(MADV_SEQUENTIAL)`).
    package func adviseSequential() {
        if let base { Syscalls.advise(base, size, .sequential) }
    }
}

/// Bytes kept alive by their owner: a mapped file or an anonymous mapping.
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

    /// A fresh buffer of `count` zeroed bytes (an `AnonymousMapping` of its own), filled by
    /// `fill`. For a stream of tensors, a `BufferPool` recycles the memory instead.
    public static func allocate(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> ByteRegion {
        let mapping = try AnonymousMapping(bytes: count)
        let bytes = mapping.bytes(count)
        try fill(bytes)
        return ByteRegion(owner: mapping, bytes: UnsafeRawBufferPointer(bytes))
    }

    /// A copy of `data` in a fresh buffer.
    public static func copying(_ data: UnsafeRawBufferPointer) throws -> ByteRegion {
        try allocate(count: data.count) { dst in
            if let s = data.baseAddress, let d = dst.baseAddress { d.copyMemory(from: s, byteCount: data.count) }
        }
    }
}
