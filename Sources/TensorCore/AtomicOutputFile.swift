#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An output file that appears at its destination only when complete: bytes go to a temporary
/// file beside it, `commit()` flushes it to disk and renames it over the destination. On any
/// error (or if `commit()` is never called) the temporary is removed and an existing file at the
/// destination is untouched.
public final class AtomicOutputFile {
    public let destination: String
    public let temporaryPath: String
    public private(set) var bytesWritten = 0
    private var fd: Int32
    private let write: (Int32, UnsafeRawPointer, Int) -> Int
    private var done = false

    /// - Parameter write: the `write(2)` to use; tests inject a failing one to simulate a full disk.
    public init(destination: String, write: @escaping (Int32, UnsafeRawPointer, Int) -> Int = Syscalls.systemWrite) throws(IOError) {
        self.destination = destination
        self.write = write
        var attempt = 0
        while true {
            let tmp = "\(destination).tmp-\(getpid())-\(attempt)"
            do {
                fd = try Syscalls.createExclusive(tmp)
                temporaryPath = tmp
                break
            } catch {
                if error.errno == EEXIST && attempt < 100 { attempt += 1; continue }
                throw error
            }
        }
    }

    deinit {
        if !done { abandon() }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(IOError) {
        do {
            try Syscalls.writeAll(fd, bytes, path: temporaryPath, using: write)
        } catch {
            abandon()
            throw IOError(error.operation, path: destination, errno: error.errno)
        }
        bytesWritten += bytes.count
    }

    /// Writes `count` zero bytes (alignment padding).
    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        let zeros = [UInt8](repeating: 0, count: count)
        try zeros.withUnsafeBytes { try write($0) }
    }

    /// Flushes, closes and renames the temporary over the destination.
    public func commit() throws(IOError) {
        precondition(!done, "commit after commit or abandon")
        do {
            try Syscalls.sync(fd, path: temporaryPath)
            Syscalls.closeQuietly(fd)
            fd = -1
            try Syscalls.rename(temporaryPath, to: destination)
            done = true
        } catch {
            abandon()
            throw error
        }
    }

    /// Closes and removes the temporary file.
    public func abandon() {
        guard !done else { return }
        done = true
        if fd >= 0 { Syscalls.closeQuietly(fd) }
        fd = -1
        Syscalls.removeQuietly(temporaryPath)
    }
}
