import Foundation
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// Source files' SHA-256 remembered by file identity, as git's index remembers file contents:
/// the key is the device, inode, size and modification and change times (nanoseconds) of the
/// file, so any write to it — which moves its change time, and nothing in user space can set
/// that back — makes the entry miss. Quantizing one checkpoint to several types (the usual
/// ladder) then hashes it once: the SHA-256 costs about 1.1 s of one core per 2 GB, as much
/// as a whole Q4_0 quantization of it on two.
///
/// One small file per entry under `directory`, named by the key, holding the hex digest.
/// Lookups and stores never fail the command: an unreadable or unwritable cache is no cache.
///
/// File times tick coarsely (a few ms, up to seconds on some file systems), so a file written
/// again within one tick keeps its times. As git does for its "racy" entries, a digest is not
/// stored while the file's last change is younger than `racyWindow`.
public struct HashCache: Sendable {
    public let directory: String
    public let racyWindow: Double

    public init(directory: String, racyWindow: Double = 2) {
        self.directory = directory
        self.racyWindow = racyWindow
    }

    /// `$TRAMONTANE_CACHE_DIR/sha256` (an empty value turns the cache off), else
    /// `$XDG_CACHE_HOME/tramontane/sha256`, else `~/.cache/tramontane/sha256`, from `env` (the
    /// command passes the process's environment).
    public static func standard(environment env: [String: String]) -> HashCache? {
        if let dir = env["TRAMONTANE_CACHE_DIR"] { return dir.isEmpty ? nil : HashCache(directory: dir + "/sha256") }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return HashCache(directory: xdg + "/tramontane/sha256") }
        if let home = env["HOME"], !home.isEmpty { return HashCache(directory: home + "/.cache/tramontane/sha256") }
        return nil
    }

    /// The identity of the file at `path` now and the time of its last change (seconds since
    /// 1970), or nil if it cannot be read.
    static func identity(_ path: String) -> (key: String, changed: Double)? {
        guard let st = try? Syscalls.status(path), st.kind == .regular else { return nil }
        let m = st.modified, c = st.changed
        return ("\(st.device)-\(st.inode)-\(st.size)-\(m.seconds).\(m.nanoseconds)-\(c.seconds).\(c.nanoseconds)", max(m.value, c.value))
    }

    func lookup(_ key: String) -> String? {
        guard let text = (try? TextFile.read(directory + "/" + key))?.trimmingCharacters(in: .whitespacesAndNewlines),
              text.count == 64, text.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return text
    }

    func store(_ key: String, _ digest: String) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let out = try AtomicOutputFile(destination: directory + "/" + key, replacing: true, direct: false)
            try Array((digest + "\n").utf8).withUnsafeBytes { try out.write($0) }
            try out.commit()
        } catch {
            // No cache then: the digest itself is already computed.
        }
    }

    /// The remembered SHA-256 of the file as it is now, if any (a stat and a small read).
    public func cached(file path: String) -> String? {
        Self.identity(path).flatMap { lookup($0.key) }
    }

    /// The SHA-256 of the file and whether it came from the cache. A digest is stored only if
    /// the file's identity did not change while it was hashed and its last change is older
    /// than `racyWindow`.
    public func sha256(file path: String) throws -> (digest: String, cached: Bool) {
        let before = Self.identity(path)
        if let before, let hit = lookup(before.key) { return (hit, true) }
        let digest = try TensorValues.sha256(file: path)
        if let before, Self.identity(path)?.key == before.key,
           Date().timeIntervalSince1970 - before.changed > racyWindow {
            store(before.key, digest)
        }
        return (digest, false)
    }
}

/// Digests computed earlier in this process, each trusted while its file's identity (the
/// `HashCache` key) is unchanged. The ladder quantizes one source to many types and hashes it
/// once: a base it has just written is younger than `HashCache.racyWindow`, so the disk cache
/// would not keep its digest and every rung would read the whole file again.
package struct KnownDigests: Sendable {
    private var entries: [String: (key: String, digest: String)] = [:]

    package init() {}

    /// Hashes `path` (through `cache` when there is one) and remembers its digest.
    package mutating func add(file path: String, cache: HashCache?) throws {
        guard let before = HashCache.identity(path) else { return }
        let digest = try cache?.sha256(file: path).digest ?? TensorValues.sha256(file: path)
        if HashCache.identity(path)?.key == before.key { entries[path] = (before.key, digest) }
    }

    /// The digest of `path` if it was hashed in this process and has not changed since.
    package func digest(file path: String) -> String? {
        guard let e = entries[path], HashCache.identity(path)?.key == e.key else { return nil }
        return e.digest
    }
}
