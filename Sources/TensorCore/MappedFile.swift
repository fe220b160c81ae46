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

/// A 64-byte aligned heap allocation, freed when the last `ByteRegion` using it goes.
public final class OwnedBytes: @unchecked Sendable {
    public let mutableBytes: UnsafeMutableRawBufferPointer
    private let allocation: UnsafeMutableRawBufferPointer

    public init(count: Int) {
        allocation = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        allocation.initializeMemory(as: UInt8.self, repeating: 0)
        mutableBytes = UnsafeMutableRawBufferPointer(rebasing: allocation[0..<count])
    }

    deinit { allocation.deallocate() }
}
