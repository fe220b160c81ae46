#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An output file that appears at its destination only when complete: bytes go to a temporary
/// file beside it (`NAME.tmp-PID-N`), `commit()` flushes it to disk and renames it over the
/// destination. On any error (or if `commit()` is never called) the temporary is removed and an
/// existing file at the destination is untouched.
///
/// The destination is an `OutputTarget`, checked when the file is made and again just before
/// the rename (an input, a FIFO or a device is never replaced). The temporary is also removed
/// if SIGINT, SIGTERM, SIGHUP or SIGQUIT stops the process (`Syscalls.removeOnSignal`). A
/// SIGKILL leaves it behind, so making a file first removes stale temporaries of the same
/// destination: those whose process id names no live process.
///
/// On Linux the bytes go to the disk directly (`O_DIRECT`), gathered in an aligned
/// `DirectStaging` buffer, instead of being copied into the page cache: allocating and filling
/// fresh cache pages costs far more kernel time than the direct write (Benchmarks/README.md). Where the file system refuses direct I/O, or a direct write comes
/// back short, the rest goes through plain `write(2)`.
package final class AtomicOutputFile: CommittableOutput {
    package let target: OutputTarget
    package var destination: String { target.path }
    package let temporaryPath: String
    package private(set) var bytesWritten = 0
    private var fd: Int32
    private let write: (Int32, UnsafeRawPointer, Int) -> Int
    private var done = false
    private var staging: DirectStaging?
    /// The temporary's registration for removal on a signal (`Syscalls.removeOnSignal`).
    private var signalSlot: Int32 = -1

    /// - Parameters:
    ///   - write: the `write(2)` to use; tests inject a failing one to simulate a full disk.
    ///   - direct: write around the page cache where the system allows it.
    package init(target: OutputTarget, write: @escaping (Int32, UnsafeRawPointer, Int) -> Int = Syscalls.systemWrite,
                direct: Bool = true) throws {
        try target.check()
        self.target = target
        self.write = write
        Self.removeStaleTemporaries(of: target.path)
        var attempt = 0
        while true {
            let tmp = Self.temporaryName(target.path, pid: getpid(), attempt: attempt)
            // Registered before it exists, so no moment has the file on disk and unregistered.
            let slot = Syscalls.removeOnSignal(tmp)
            do {
                fd = try Syscalls.createExclusive(tmp)
                temporaryPath = tmp
                signalSlot = slot
                break
            } catch {
                Syscalls.forgetOnSignal(slot)
                if error.errno == EEXIST && attempt < 100 { attempt += 1; continue }
                throw error
            }
        }
        if direct, let s = DirectStaging(), Syscalls.setDirect(fd, true) { staging = s }
    }

    /// A destination with no inputs to protect; an existing regular file there is replaced only
    /// if `replacing`.
    package convenience init(destination: String, replacing: Bool = false,
                            write: @escaping (Int32, UnsafeRawPointer, Int) -> Int = Syscalls.systemWrite,
                            direct: Bool = true) throws {
        try self.init(target: OutputTarget(destination, replacing: replacing), write: write, direct: direct)
    }

    /// `NAME.tmp-PID-N`, beside the destination.
    static func temporaryName(_ destination: String, pid: pid_t, attempt: Int) -> String {
        "\(destination).tmp-\(pid)-\(attempt)"
    }

    /// Removes `NAME.tmp-PID-N` files beside `destination` left by a process that no longer
    /// runs (killed with SIGKILL, or by a power cut). Best effort: a folder that cannot be
    /// listed is left as it is. A temporary of a live process, this one included, is kept.
    static func removeStaleTemporaries(of destination: String) {
        let slash = destination.lastIndex(of: "/")
        let folder = slash.map { $0 == destination.startIndex ? "/" : String(destination[..<$0]) } ?? "."
        let prefix = (slash.map { String(destination[destination.index(after: $0)...]) } ?? destination) + ".tmp-"
        guard let names = try? Syscalls.directoryEntries(folder) else { return }
        let me = getpid()
        for name in names where name.hasPrefix(prefix) {
            let parts = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 >= "0" && $0 <= "9" } }),
                  let pid = pid_t(parts[0]), pid > 0 else { continue }
            if pid == me || Syscalls.processExists(pid) { continue }
            Syscalls.removeQuietly(folder == "/" ? "/" + name : folder + "/" + name)
        }
    }

    deinit {
        if !done { abandon() }
    }

    /// Whether writes currently bypass the page cache.
    package var isDirect: Bool { staging != nil }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        do {
            var rest = bytes
            while !rest.isEmpty {
                // Re-read each time: a flush may have turned direct I/O off.
                guard let staging else {
                    try Syscalls.writeAll(fd, rest, path: temporaryPath, using: write)
                    break
                }
                rest = staging.take(rest)
                if staging.isFull { try flush(staging, padded: false) }
            }
        } catch {
            abandon()
            throw IOError(error.operation, path: destination, errno: error.errno)
        }
        bytesWritten += bytes.count
    }

    /// Writes `count` zero bytes (alignment padding).
    package func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        let zeros = [UInt8](repeating: 0, count: count)
        try zeros.withUnsafeBytes { try write($0) }
    }

    /// Flushes, closes and renames the temporary over the destination (checked once more:
    /// something may have appeared there since the file was made).
    package func commit() throws {
        precondition(!done, "commit after commit or abandon")
        do {
            if let staging, staging.count > 0 {
                // The last direct block is padded to the alignment, then the file cut to length.
                try flush(staging, padded: true)
                try Syscalls.truncate(fd, bytesWritten, path: temporaryPath)
            }
            try Syscalls.sync(fd, path: temporaryPath)
            Syscalls.closeQuietly(fd)
            fd = -1
        } catch {
            abandon()
            throw IOError(error.operation, path: destination, errno: error.errno)
        }
        do {
            try target.check()
        } catch {
            abandon()
            throw error
        }
        do {
            try Syscalls.rename(temporaryPath, to: destination)
            done = true
            Syscalls.forgetOnSignal(signalSlot)
        } catch {
            abandon()
            throw IOError(error.operation, path: destination, errno: error.errno)
        }
    }

    /// Closes and removes the temporary file.
    package func abandon() {
        guard !done else { return }
        done = true
        if fd >= 0 { Syscalls.closeQuietly(fd) }
        fd = -1
        Syscalls.removeQuietly(temporaryPath)
        Syscalls.forgetOnSignal(signalSlot)
    }

    /// Writes the staged bytes (rounded up to the alignment with zeros when `padded`). A direct
    /// write refused with EINVAL (file system or alignment) or cut short (the next would be
    /// misaligned) turns direct I/O off; the bytes left, up to the logical end, then go
    /// through plain writes, so the real error (such as ENOSPC) is the one reported.
    private func flush(_ s: DirectStaging, padded: Bool) throws(IOError) {
        defer { s.reset() }
        var done = 0
        var end = padded ? s.paddedCount : s.count
        while done < end {
            let n = write(fd, s.base + done, end - done)
            if n < 0 {
                if errno == EINTR { continue }
                guard errno == EINVAL, staging != nil else { throw IOError("cannot write", path: temporaryPath, errno: errno) }
                stopDirect(); end = s.count
                continue
            }
            if n == 0 { throw IOError("cannot write", path: temporaryPath, errno: EIO) }
            done += n
            if done < end, staging != nil { stopDirect(); end = s.count }
        }
    }

    private func stopDirect() {
        _ = Syscalls.setDirect(fd, false)
        staging = nil
    }
}

/// The aligned buffer direct writes go through: 8 MiB, 4096-byte aligned (the strictest
/// logical block size direct I/O asks for on common devices), filled front to back.
final class DirectStaging {
    static let alignment = 4096
    static let capacity = 8 << 20
    private let memory: AnonymousMapping
    var base: UnsafeMutableRawPointer { memory.base }
    private(set) var count = 0

    /// Nil if the memory cannot be mapped (a mapping is page-aligned, so aligned enough).
    init?() {
        guard let m = try? AnonymousMapping(bytes: Self.capacity) else { return nil }
        memory = m
    }

    var isFull: Bool { count == Self.capacity }

    /// `count` rounded up to the alignment, the gap zeroed.
    var paddedCount: Int {
        let padded = (count + Self.alignment - 1) / Self.alignment * Self.alignment
        (base + count).initializeMemory(as: UInt8.self, repeating: 0, count: padded - count)
        return padded
    }

    /// Copies as much of `bytes` as fits; returns the rest.
    func take(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let n = min(bytes.count, Self.capacity - count)
        if n > 0, let src = bytes.baseAddress { (base + count).copyMemory(from: src, byteCount: n) }
        count += n
        return UnsafeRawBufferPointer(rebasing: bytes[n...])
    }

    func reset() { count = 0 }
}
