#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, with the path and the errno text so the user knows what to fix; or a
/// file refused before any call could fail (`detail`: a FIFO where a file was expected).
public struct IOError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32
    /// Said instead of the errno text when set.
    public let detail: String?

    public init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
        detail = nil
    }

    public init(_ operation: String, path: String, errno: Int32, detail: String) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.detail = detail
    }

    /// A path that names something other than a regular file, refused before it is read (a
    /// FIFO or a device could block forever or change state when opened or read).
    public static func notRegularFile(_ path: String, kind: FileKind) -> IOError {
        IOError("cannot read", path: path, errno: kind == .directory ? EISDIR : EINVAL,
                detail: "it is \(kind.described), not a regular file; give the path of a regular file")
    }

    public var description: String {
        "\(operation) \(path): \(detail ?? String(cString: strerror(errno)))"
    }
}
