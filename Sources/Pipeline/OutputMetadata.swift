import Checkpoints
import Foundation
import ModelFile
import TensorCore

/// What every `.tmt` that Tramontane writes carries besides tensors: the tokenizer files, the
/// config, and the provenance (tool, command, time, sources with their sha256, what was
/// dropped, the parent file's provenance). Shared by `convert` and `quantize`.
struct OutputMetadata {
    let checkpoint: Checkpoint
    let model: NativeModel
    let command: [String]
    /// Source hashes, computed on a thread of their own beside the tensor work.
    let hashes: SourceHashes

    init(checkpoint: Checkpoint, model: NativeModel, command: [String], hashSources: Bool, hashCache: HashCache? = nil) {
        self.checkpoint = checkpoint
        self.model = model
        self.command = command
        hashes = SourceHashes(checkpoint.files, hash: hashSources, cache: hashCache)
    }

    /// Adds the tokenizer files as blobs and finishes the file with config and provenance;
    /// `extra` adds command-specific provenance keys.
    func finish(_ writer: TMTWriter, extra: [String: JSONValue]) throws {
        var kinds: [String: JSONValue] = [:]
        for tok in checkpoint.tokenizers {
            let bytes = try tok.load()
            try bytes.withBytes { try writer.addBlob(name: "tokenizer/\(tok.name)", bytes: $0) }
            kinds[tok.name] = .string(tok.kind)
        }
        var provenance: [String: JSONValue] = [
            "tool": .string("tramontane \(Converter.toolVersion)"),
            "command": .array(command.map { .string($0) }),
            "created": .string(ISO8601DateFormatter().string(from: Date())),
            "source_format": .string(checkpoint.format.rawValue),
            "source_layout": .string(model.sourceLayout),
            "sources": .array(try hashes.wait()),
            "dropped_tensors": .array(model.dropped.map { .string($0) }),
        ]
        provenance.merge(extra) { _, new in new }
        if let parent = checkpoint.tmt?.metadata["provenance"] { provenance["parent"] = parent }
        let config = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(model.config))
        try writer.finish(metadata: .object([
            "config": config,
            "provenance": .object(provenance),
            "tokenizer": .object(["kinds": .object(kinds)]),
        ]))
    }
}

/// SHA-256 of source files computed on a background thread; `wait()` joins it. With `hash`
/// false (`--no-source-hash`) each source is recorded with `"sha256": null`: hashing costs one
/// core about 1 s per 2 GB, as much as a whole Q4_0 quantization on two cores. With a `cache`,
/// a file hashed before and unchanged since is not read again (recorded with
/// `"sha256_cached": true`).
final class SourceHashes: @unchecked Sendable {
    private var result: Result<[JSONValue], Error> = .success([])
    private let done = DispatchSemaphore(value: 0)

    init(_ files: [String], hash: Bool = true, cache: HashCache? = nil) {
        Thread.detachNewThread { [self] in
            result = Result {
                try files.map { f in
                    let size = (try? FileManager.default.attributesOfItem(atPath: f)[.size] as? Int) ?? 0
                    var entry: [String: JSONValue] = ["path": .string(f), "bytes": .int(Int64(size)), "sha256": .null]
                    if hash, let cache {
                        let (digest, cached) = try cache.sha256(file: f)
                        entry["sha256"] = .string(digest)
                        if cached { entry["sha256_cached"] = .bool(true) }
                    } else if hash {
                        entry["sha256"] = .string(try TensorValues.sha256(file: f))
                    }
                    return .object(entry)
                }
            }
            done.signal()
        }
    }

    func wait() throws -> [JSONValue] {
        done.wait()
        return try result.get()
    }
}
