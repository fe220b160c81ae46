#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The memory-mapping and library-loading calls, beside the file calls of `Syscalls.swift`.
extension Syscalls {
    /// What `advise` tells the kernel about a range of mapped memory.
    package enum Advice: Sendable {
        /// Back it with transparent huge pages where the kernel allows (`MADV_HUGEPAGE`, Linux).
        case hugePages
        /// Its pages may go (`MADV_DONTNEED`): a file's are read again on the next touch.
        case dontNeed
        /// It will be read front to back (`MADV_SEQUENTIAL`).
        case sequential
        /// It will be read soon: a file's pages are read ahead now, without waiting (`MADV_WILLNEED`).
        case willNeed
    }

    /// `mmap(2)` of `bytes` of zero-filled, private, read-write anonymous memory.
    package static func mapAnonymous(_ bytes: Int) throws(IOError) -> UnsafeMutableRawPointer {
        guard bytes > 0 else { throw IOError("cannot map", path: "\(bytes) bytes of memory", errno: EINVAL) }
        guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            throw IOError("cannot map", path: "\(bytes) bytes of memory", errno: errno)
        }
        return p
    }

    /// `mapAnonymous` of `bytes` (whole pages) starting at a multiple of `alignment` (a power of two): maps
    /// `alignment` more, then `munmap(2)`s the unaligned head and the tail.
    package static func mapAnonymous(_ bytes: Int, alignment: Int) throws(IOError) -> UnsafeMutableRawPointer {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        let (total, overflow) = bytes.addingReportingOverflow(alignment)
        guard !overflow else { throw IOError("cannot map", path: "\(bytes) bytes of memory", errno: EINVAL) }
        let p = try mapAnonymous(total)
        let head = (alignment - Int(bitPattern: p) & (alignment - 1)) & (alignment - 1)
        if head > 0 { unmap(p, head) }
        unmap(p + head + bytes, alignment - head)
        return p + head
    }

    /// The size of a memory page (`sysconf(_SC_PAGESIZE)`).
    package static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// `mmap(2)` of a whole file, private and read-only.
    package static func mapFile(_ fd: Int32, size: Int, path: String) throws(IOError) -> UnsafeMutableRawPointer {
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw IOError("cannot map", path: path, errno: errno)
        }
        return p
    }

    /// `munmap(2)`.
    package static func unmap(_ p: UnsafeMutableRawPointer, _ bytes: Int) { _ = munmap(p, bytes) }

    /// `madvise(2)`: a hint, so a refusal changes nothing and is not reported.
    package static func advise(_ p: UnsafeMutableRawPointer, _ bytes: Int, _ advice: Advice) {
        switch advice {
        case .hugePages:
            #if os(Linux)
            _ = madvise(p, bytes, MADV_HUGEPAGE)
            #endif
        case .dontNeed: _ = madvise(p, bytes, MADV_DONTNEED)
        case .sequential: _ = madvise(p, bytes, MADV_SEQUENTIAL)
        case .willNeed: _ = madvise(p, bytes, MADV_WILLNEED)
        }
    }

    /// `dlopen(3)` of a shared library (`RTLD_NOW | RTLD_LOCAL`), or the loader's reason.
    package static func loadLibrary(_ name: String) -> Result<UnsafeMutableRawPointer, IOError> {
        guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            return .failure(IOError("cannot load", path: name, errno: 0, detail: dlerror().map { String(cString: $0) } ?? "dlopen failed"))
        }
        return .success(h)
    }

    /// `dlsym(3)`.
    package static func symbol(_ library: UnsafeMutableRawPointer, _ name: String) -> UnsafeMutableRawPointer? { dlsym(library, name) }
}
