#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A UTF-8 text file named by the user (`--text`, `--tokens`, `--prompt-file`, `tokenize
/// --file`), read through `MappedFile` so that it is checked to be a regular file like every
/// other input (a FIFO is refused rather than blocking). The result is what Foundation's
/// `String(contentsOfFile:encoding: .utf8)` gave: a leading byte-order mark dropped, bytes
/// that are not UTF-8 refused.
package enum TextFile {
    package static func read(_ path: String) throws(IOError) -> String {
        let file = try MappedFile(path: path)
        var bytes = file.bytes
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            bytes = UnsafeRawBufferPointer(rebasing: bytes[3...])
        }
        return try withExtendedLifetime(file) { () throws(IOError) -> String in
            let invalid = transcode(bytes.makeIterator(), from: UTF8.self, to: UTF32.self, stoppingOnError: true) { _ in }
            if invalid { throw IOError("cannot read", path: path, errno: EILSEQ, detail: "it is not UTF-8 text") }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
