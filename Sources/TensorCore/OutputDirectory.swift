import Foundation

/// A folder a command writes as a whole (`export --to safetensors|mlx`): its files go into a
/// temporary folder beside it (`DIR.tmp-PID`), and `commit()` renames that into place, so the
/// destination holds either the old folder or the complete new one, never a half-written mix.
///
/// The destination is checked as `OutputTarget` checks a file, when the folder is made and again
/// before the rename:
/// - it must not be, or contain, any input of the command (a source file inside the folder, or
///   the folder itself, found by device and inode up each input's parent chain, so links count);
/// - something that exists there must be a folder (a file, FIFO or device is never replaced);
/// - an existing folder is replaced only when `replacing` (the command line's `--force`).
package final class OutputDirectory: CommittableOutput {
    package let path: String
    package let temporaryPath: String
    package let replacing: Bool
    let inputs: [String]
    private var done = false

    package init(_ path: String, inputs: [String] = [], replacing: Bool = false) throws {
        self.path = path
        self.replacing = replacing
        self.inputs = inputs
        temporaryPath = "\(path).tmp-\(getpid())"
        try check()
        let fm = FileManager.default
        Self.removeStaleTemporaries(of: path)
        // A temporary of this process id is left over from a killed run with the same id.
        if fm.fileExists(atPath: temporaryPath) { try? fm.removeItem(atPath: temporaryPath) }
        do {
            try fm.createDirectory(atPath: temporaryPath, withIntermediateDirectories: false)
        } catch {
            throw OutputError.cannotCreateFolder(path: temporaryPath, detail: "\(error.localizedDescription)")
        }
    }

    /// Removes `DIR.tmp-PID` and `DIR.old-PID` folders beside `destination` left by a process
    /// that no longer runs (killed with SIGKILL, or by a signal the cleanup handler catches: it
    /// removes files, not folders). Best effort, as `AtomicOutputFile.removeStaleTemporaries`.
    static func removeStaleTemporaries(of destination: String) {
        let folder = (destination as NSString).deletingLastPathComponent
        let base = (destination as NSString).lastPathComponent
        guard let names = try? Syscalls.directoryEntries(folder.isEmpty ? "." : folder) else { return }
        for name in names {
            for marker in [".tmp-", ".old-"] where name.hasPrefix(base + marker) {
                let digits = name.dropFirst(base.count + marker.count)
                guard !digits.isEmpty, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }), let pid = pid_t(digits), pid > 0,
                      pid != getpid(), !Syscalls.processExists(pid) else { continue }
                try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
            }
        }
    }

    /// The path of a file inside the folder being written.
    package func file(_ name: String) -> String { (temporaryPath as NSString).appendingPathComponent(name) }

    /// The output target for a file inside the folder being written (nothing there to protect).
    package func target(_ name: String) throws -> OutputTarget { try OutputTarget(file(name)) }

    /// Checks the destination as it is now.
    package func check() throws {
        let existing: FileStatus?
        do { existing = try Syscalls.status(path) } catch { throw OutputError.cannotCheck(path: path, error: error) }
        guard let existing else { return }
        // An input whose own path, or any folder above it, is the destination lies inside it.
        for input in inputs {
            var p = (input as NSString).resolvingSymlinksInPath
            if !p.hasPrefix("/") { p = (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(p) }
            while true {
                if let s = try? Syscalls.status(p), s.isSameFile(as: existing) {
                    throw OutputError.folderHoldsInput(path: path, input: input)
                }
                let parent = (p as NSString).deletingLastPathComponent
                if parent == p || parent.isEmpty { break }
                p = parent
            }
        }
        guard existing.kind == .directory else { throw OutputError.notFolder(path: path, kind: existing.kind) }
        guard replacing else { throw OutputError.folderExists(path: path) }
    }

    /// Renames the finished folder into place, replacing an existing one (`replacing`): the old
    /// folder is moved aside first and removed after the new one is in place.
    package func commit() throws {
        precondition(!done, "commit after commit or abandon")
        do { try check() } catch {
            abandon()
            throw error
        }
        let fm = FileManager.default
        var aside: String?
        if fm.fileExists(atPath: path) {
            let old = "\(path).old-\(getpid())"
            try? fm.removeItem(atPath: old)
            do { try Syscalls.rename(path, to: old) } catch {
                abandon()
                throw error
            }
            aside = old
        }
        do { try Syscalls.rename(temporaryPath, to: path) } catch {
            if let aside { try? Syscalls.rename(aside, to: path) }
            abandon()
            throw error
        }
        done = true
        if let aside { try? fm.removeItem(atPath: aside) }
    }

    /// Removes the temporary folder and everything in it.
    package func abandon() {
        guard !done else { return }
        done = true
        try? FileManager.default.removeItem(atPath: temporaryPath)
    }

    deinit { abandon() }
}
