#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One block of anonymous memory (`mmap(MAP_ANONYMOUS)`), zero-filled by the kernel and unmapped
/// when freed: the one allocator behind `BufferPool`, `ByteRegion.allocate` and `LargeBufferArena`.
///
/// The one rounding rule (`length(for:)`): from 2 MiB up, whole 2 MiB pages, 2 MiB-aligned and
/// advised to use transparent huge pages (a large buffer is written front to back, and resident
/// weights are streamed once per token: a fault and a TLB entry per 2 MiB instead of per 4 KiB);
/// below that, whole 4 KiB pages (small buffers that stay alive, like a small model's norms or
/// un-permuted q/k weights, should not each take 2 MiB).
package final class AnonymousMapping: @unchecked Sendable {
    package let base: UnsafeMutableRawPointer
    /// The mapped length: the request rounded by `length(for:)`.
    package let size: Int

    package static let hugePage = 1 << 21
    static let page = 1 << 12

    /// The length a request of `bytes` is mapped with; nil if that overflows.
    package static func length(for bytes: Int) -> Int? {
        let unit = bytes >= hugePage ? hugePage : page
        let (sum, overflow) = max(bytes, 1).addingReportingOverflow(unit - 1)
        return overflow ? nil : sum / unit * unit
    }

    /// Throws, instead of trapping as a failed heap allocation would, when `bytes` cannot be
    /// mapped (a size a file declared but does not hold, say).
    package init(bytes: Int) throws(IOError) {
        guard bytes >= 0, let size = Self.length(for: bytes) else {
            throw IOError("cannot map", path: "\(bytes) bytes of memory", errno: EINVAL)
        }
        if size >= Self.hugePage {
            base = try Syscalls.mapAnonymous(size, alignment: Self.hugePage)
            Syscalls.advise(base, size, .hugePages)
        } else {
            base = try Syscalls.mapAnonymous(size)
        }
        self.size = size
    }

    deinit { Syscalls.unmap(base, size) }

    /// The first `count` bytes (at most `size`).
    package func bytes(_ count: Int) -> UnsafeMutableRawBufferPointer {
        precondition(count >= 0 && count <= size, "more bytes than the mapping holds")
        return UnsafeMutableRawBufferPointer(start: base, count: count)
    }
}
