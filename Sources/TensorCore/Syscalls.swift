import CShims
import CSignalCleanup
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every system call Tramontane makes, behind thin wrappers (the swift-system habit): the file
/// calls here, memory mapping and library loading in `Syscalls+Memory.swift`. Errors carry the
/// path, and tests can inject a short write or ENOSPC through `AtomicOutputFile`'s `write`
/// parameter.
public enum Syscalls {
    /// `open(2)` of a regular file for reading, and its size. Anything else is refused with the
    /// path and what it is, before it is opened where `stat(2)` can tell (opening a device may
    /// act on it) and in any case before a byte is read: the open is `O_NONBLOCK`, so a FIFO
    /// cannot block it forever, then `fstat(2)` checks the file actually opened, and the flag is
    /// cleared (it means nothing for a regular file, but reads should not inherit it).
    package static func openForReading(_ path: String) throws(IOError) -> (fd: Int32, size: Int) {
        if let st = try status(path), st.kind != .regular { throw IOError.notRegularFile(path, kind: st.kind) }
        let fd = retryOnInterrupt { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else { throw IOError("cannot open", path: path, errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            closeQuietly(fd)
            throw IOError("cannot stat", path: path, errno: e)
        }
        let kind = FileKind(mode: st.st_mode)
        guard kind == .regular else {
            closeQuietly(fd)
            throw IOError.notRegularFile(path, kind: kind)
        }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            let e = errno
            closeQuietly(fd)
            throw IOError("cannot clear O_NONBLOCK on", path: path, errno: e)
        }
        return (fd, Int(st.st_size))
    }

    /// `open(2)` creating a new file that must not exist yet.
    package static func createExclusive(_ path: String, mode: mode_t = 0o644) throws(IOError) -> Int32 {
        let fd = retryOnInterrupt { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw IOError("cannot create", path: path, errno: errno) }
        return fd
    }

    /// `stat(2)`, following symbolic links; nil if nothing is at `path` (or a link dangles).
    package static func status(_ path: String) throws(IOError) -> FileStatus? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw IOError("cannot stat", path: path, errno: errno)
        }
        return FileStatus(st)
    }

    /// The names in a folder (`opendir(3)`/`readdir(3)`), without "." and "..".
    package static func directoryEntries(_ path: String) throws(IOError) -> [String] {
        guard let dir = opendir(path) else { throw IOError("cannot list", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Whether a process with this id exists (`kill(pid, 0)`): true unless the system says there
    /// is none (ESRCH); a process of another user (EPERM) exists.
    package static func processExists(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// `write(2)` until every byte is written, retrying short writes and EINTR.
    package static func writeAll(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String,
        using write: (Int32, UnsafeRawPointer, Int) -> Int
    ) throws(IOError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError("cannot write", path: path, errno: errno)
            }
            if n == 0 { throw IOError("cannot write", path: path, errno: EIO) }
            p += n
            left -= n
        }
    }

    /// `fsync(2)`.
    package static func sync(_ fd: Int32, path: String) throws(IOError) {
        guard fsync(fd) == 0 else { throw IOError("cannot fsync", path: path, errno: errno) }
    }

    /// `ftruncate(2)`.
    package static func truncate(_ fd: Int32, _ length: Int, path: String) throws(IOError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw IOError("cannot truncate", path: path, errno: errno) }
    }

    /// Turns `O_DIRECT` on or off for an open file (Linux); false if refused or unsupported.
    package static func setDirect(_ fd: Int32, _ on: Bool) -> Bool {
        #if os(Linux)
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { return false }
        let direct = tramontane_o_direct()
        return fcntl(fd, F_SETFL, on ? flags | direct : flags & ~direct) == 0
        #else
        return false
        #endif
    }

    /// `rename(2)`: atomically replaces `to`.
    package static func rename(_ from: String, to: String) throws(IOError) {
        #if canImport(Glibc)
        let r = Glibc.rename(from, to)
        #else
        let r = Darwin.rename(from, to)
        #endif
        guard r == 0 else { throw IOError("cannot rename to \(to):", path: from, errno: errno) }
    }

    /// `unlink(2)`, ignoring failure (used to clean up temporaries).
    package static func removeQuietly(_ path: String) { _ = unlink(path) }

    /// Registers `path` to be unlinked if SIGINT, SIGTERM, SIGHUP or SIGQUIT stops the process
    /// (`Sources/CSignalCleanup`: the handler then restores the default action and re-raises).
    /// Returns the slot for `forgetOnSignal`, or -1 if none was free.
    package static func removeOnSignal(_ path: String) -> Int32 { tramontane_cleanup_register(path) }

    /// Undoes `removeOnSignal`.
    package static func forgetOnSignal(_ slot: Int32) { tramontane_cleanup_unregister(slot) }

    /// `close(2)`.
    package static func closeQuietly(_ fd: Int32) { _ = close(fd) }

    /// The libc `write`, the default for `writeAll`.
    public static let systemWrite: @Sendable (Int32, UnsafeRawPointer, Int) -> Int = { fd, p, n in
        #if canImport(Glibc)
        return Glibc.write(fd, p, n)
        #else
        return Darwin.write(fd, p, n)
        #endif
    }

    @inline(__always)
    static func retryOnInterrupt(_ body: () -> Int32) -> Int32 {
        while true {
            let r = body()
            if r < 0 && errno == EINTR { continue }
            return r
        }
    }
}
