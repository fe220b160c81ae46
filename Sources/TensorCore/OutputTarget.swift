/// A path a command may write its result to, checked once here for every writer (`convert`,
/// `quantize`, `imatrix`): an output must never destroy what the command reads, nor replace
/// something that is not a regular file.
///
/// Refused, in this order:
/// - the output is one of the inputs: the same device and inode as any file the command reads
///   (every checkpoint file, config, tokenizer, importance matrix), so a hard link or a symbolic
///   link to a source is caught as well as its own path;
/// - something exists there that is not a regular file (a FIFO, a device such as /dev/null, a
///   directory, a socket): renaming over it would replace it;
/// - a regular file exists there and `replacing` is false (the command line's `--force`).
///
/// The check runs when the target is made — before any work, so a long run does not fail at
/// its end — and again by `AtomicOutputFile` just before it renames its temporary into place.
public struct OutputTarget: Sendable {
    public let path: String
    /// Whether an existing regular file (that is not an input) may be replaced.
    public let replacing: Bool
    /// The inputs as they were when the target was made: path and identity.
    let inputs: [(path: String, status: FileStatus)]

    public init(_ path: String, inputs: [String] = [], replacing: Bool = false) throws(OutputError) {
        self.path = path
        self.replacing = replacing
        var found: [(path: String, status: FileStatus)] = []
        for input in inputs {
            // An input that cannot be stat'd cannot be read either; its reader reports that.
            if let st = try? Syscalls.status(input) { found.append((input, st)) }
        }
        self.inputs = found
        try check()
    }

    /// Checks the path as it is now.
    public func check() throws(OutputError) {
        let existing: FileStatus?
        do { existing = try Syscalls.status(path) } catch { throw .cannotCheck(path: path, error: error) }
        guard let existing else { return }
        if let input = inputs.first(where: { $0.status.isSameFile(as: existing) }) {
            throw .isInput(path: path, input: input.path)
        }
        guard existing.kind == .regular else { throw .notRegularFile(path: path, kind: existing.kind) }
        guard replacing else { throw .exists(path: path) }
    }
}

/// Why an output path (a file, or a folder for exports) was refused.
public enum OutputError: Error, Equatable, CustomStringConvertible {
    case isInput(path: String, input: String)
    case notRegularFile(path: String, kind: FileKind)
    case exists(path: String)
    case cannotCheck(path: String, error: IOError)
    // Output folders (`OutputDirectory`).
    case folderHoldsInput(path: String, input: String)
    case notFolder(path: String, kind: FileKind)
    case folderExists(path: String)
    case cannotCreateFolder(path: String, detail: String)

    public var description: String {
        switch self {
        case .isInput(let path, let input):
            path == input
                ? "refusing to write \(path): it is an input of this command, and writing it would destroy the source; choose another output path"
                : "refusing to write \(path): it is the same file as the input \(input) (a link to it), and writing it would destroy the source; choose another output path"
        case .notRegularFile(let path, let kind):
            "refusing to write \(path): it is \(kind.described), not a regular file, and would be replaced by one; choose another output path"
        case .exists(let path):
            "\(path) already exists: give --force to replace it, or choose another output path"
        case .cannotCheck(let path, let error):
            "cannot check the output \(path): \(error)"
        case .folderHoldsInput(let path, let input):
            "refusing to write the folder \(path): it holds the input \(input), which replacing the folder would destroy; choose another output folder"
        case .notFolder(let path, let kind):
            "refusing to write the folder \(path): it is \(kind.described), not a folder; choose another output path"
        case .folderExists(let path):
            "\(path) already exists: give --force to replace the folder, or choose another output folder"
        case .cannotCreateFolder(let path, let detail):
            "cannot create the folder \(path): \(detail)"
        }
    }
}
