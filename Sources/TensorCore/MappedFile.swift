#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only (`mmap(2)`, `MAP_PRIVATE`). Tensors are views into it, so
/// opening a checkpoint reads only headers; pages are faulted in when a tensor is used.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(IOError) {
        self.path = path
        let fd = try Syscalls.openForReading(path)
        defer { Syscalls.closeQuietly(fd) }
        let size = try Syscalls.fileSize(fd, path: path)
        self.size = size
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw IOError("cannot map", path: path, errno: errno) }
        base = p
    }

    deinit {
        if let base { munmap(base, size) }
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
    public func dropPages(offset: Int, count: Int) {
        guard let base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let end = min(size, offset + count)
        guard end > start else { return }
        _ = madvise(base + start, end - start, MADV_DONTNEED)
    }

    /// Tells the kernel the file will be read front to back (`madvise(MADV_SEQUENTIAL)`).
    public func adviseSequential() {
        if let base { _ = madvise(base, size, MADV_SEQUENTIAL) }
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

    /// A copy of the bytes as an array.
    public var array: [UInt8] { withBytes { Array($0) } }

    /// A fresh heap buffer of `count` zeroed bytes, filled by `fill`.
    public static func allocate(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> ByteRegion {
        let owned = OwnedBytes(count: count)
        try fill(owned.mutableBytes)
        return ByteRegion(owner: owned, bytes: UnsafeRawBufferPointer(owned.mutableBytes))
    }

    /// A copy of `data` on the heap.
    public static func copying(_ data: UnsafeRawBufferPointer) -> ByteRegion {
        allocate(count: data.count) { dst in
            if let s = data.baseAddress, let d = dst.baseAddress { d.copyMemory(from: s, byteCount: data.count) }
        }
    }
}

/// A zero-filled, 64-byte aligned allocation, freed when the last `ByteRegion` using it goes.
/// Large buffers come straight from `mmap(MAP_ANONYMOUS)`: page-aligned and zeroed lazily by
/// the kernel, so a buffer that is about to be overwritten is not written twice.
public final class OwnedBytes: @unchecked Sendable {
    public let mutableBytes: UnsafeMutableRawBufferPointer
    private let base: UnsafeMutableRawPointer
    private let mapped: Int

    static let mapThreshold = 1 << 20

    public init(count: Int) {
        if count >= OwnedBytes.mapThreshold,
           let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            base = p
            mapped = count
            #if os(Linux)
            // 2 MiB pages where the kernel allows them (THP "madvise" mode): a quantized tensor
            // is written once front to back, and 4 KiB pages cost a fault each (~66k faults,
            // a tenth of the system time, for a 270 MB output).
            _ = madvise(p, count, MADV_HUGEPAGE)
            #endif
        } else {
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            base = raw.baseAddress!
            mapped = 0
        }
        mutableBytes = UnsafeMutableRawBufferPointer(start: base, count: count)
    }

    deinit {
        if mapped > 0 { munmap(base, mapped) } else { base.deallocate() }
    }
}
