#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a path names, from `stat(2)`'s `st_mode`: readers and writers accept only regular
/// files, and their errors say what was found instead.
public enum FileKind: Sendable, Equatable {
    case regular, directory, fifo, socket, characterDevice, blockDevice, symbolicLink, other

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFLNK: self = .symbolicLink
        default: self = .other
        }
    }

    /// "a FIFO (named pipe)", "a directory", … for error messages.
    public var described: String {
        switch self {
        case .regular: "a regular file"
        case .directory: "a directory"
        case .fifo: "a FIFO (named pipe)"
        case .socket: "a socket"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .symbolicLink: "a symbolic link"
        case .other: "not a regular file"
        }
    }
}

/// The identity and kind of a file (`stat(2)`): two paths name the same file when device and
/// inode are equal, whatever hard or symbolic links lead to it.
package struct FileStatus: Sendable, Equatable {
    package let device: UInt64
    package let inode: UInt64
    package let kind: FileKind
    package let size: Int
    /// The last modification and status change, as (seconds, nanoseconds) since 1970.
    package let modified: Timestamp
    package let changed: Timestamp

    package struct Timestamp: Sendable, Equatable {
        package let seconds: Int
        package let nanoseconds: Int
        package var value: Double { Double(seconds) + Double(nanoseconds) / 1e9 }
    }

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        kind = FileKind(mode: st.st_mode)
        size = Int(st.st_size)
        #if os(Linux)
        modified = Timestamp(seconds: Int(st.st_mtim.tv_sec), nanoseconds: Int(st.st_mtim.tv_nsec))
        changed = Timestamp(seconds: Int(st.st_ctim.tv_sec), nanoseconds: Int(st.st_ctim.tv_nsec))
        #else
        modified = Timestamp(seconds: Int(st.st_mtimespec.tv_sec), nanoseconds: Int(st.st_mtimespec.tv_nsec))
        changed = Timestamp(seconds: Int(st.st_ctimespec.tv_sec), nanoseconds: Int(st.st_ctimespec.tv_nsec))
        #endif
    }

    package func isSameFile(as other: FileStatus) -> Bool { device == other.device && inode == other.inode }
}
