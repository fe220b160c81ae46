import Checkpoints
import Foundation
import ModelFile
import TensorCore

/// What every `.tmt` that Tramontane writes carries besides tensors: the tokenizer files, the
/// config, and the provenance (tool, command, time, sources with their sha256, what was
/// dropped, the parent file's provenance). Shared by `convert` and `quantize`. The tokenizer
/// files are parsed and checked against the config on the way (`TokenizerLoader.check`).
struct OutputMetadata {
    let checkpoint: Checkpoint
    let model: NativeModel
    let command: [String]
    /// Source hashes, computed on a thread of their own beside the tensor work.
    let hashes: Background<[JSONValue]>
    /// Whether some source is not in the digest cache, so that thread reads and hashes it.
    let willHash: Bool
    /// The tokenizer blobs, config and creation time, prepared likewise: for a GGUF source the
    /// tokenizer is its metadata written as JSON (SmolLM2: 49k tokens and merges, ~10 ms), which
    /// was a serial step at the end of every quantization, with the other cores idle.
    let prepared: Background<Prepared>

    struct Prepared {
        /// Compressed as the writer would (its level and chunk size), off the critical path.
        var blobs: [(name: String, kind: String, encoded: EncodedBlob)]
        var config: JSONValue
        var created: String
    }

    init(checkpoint: Checkpoint, model: NativeModel, command: [String], hashSources: Bool, hashCache: HashCache? = nil,
         knownDigests: KnownDigests = KnownDigests(), writer: TMTWriterOptions) {
        self.checkpoint = checkpoint
        self.model = model
        self.command = command
        let files = checkpoint.files
        hashes = Background { try OutputMetadata.sources(files, hash: hashSources, cache: hashCache, known: knownDigests) }
        willHash = hashSources && files.contains { f in knownDigests.digest(file: f) == nil && hashCache?.cached(file: f) == nil }
        let (tokenizers, config) = (checkpoint.tokenizers, model.config)
        prepared = Background {
            Prepared(blobs: try tokenizers.map { t in
                         // Built as `generate` would build it before it is embedded.
                         (t.name, t.kind, try t.load().withBytes { b in
                             try TokenizerLoader.check(kind: t.kind, name: t.name, bytes: b, vocabulary: config.vocabSize, cache: hashCache)
                             return try EncodedBlob(b, codec: .zstd, level: writer.level, chunkSize: writer.chunkSize)
                         })
                     },
                     config: try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(config)),
                     created: ISO8601DateFormatter().string(from: Date()))
        }
    }

    /// Whether that thread is still at it.
    var hashing: Bool { willHash && !hashes.isDone }

    /// Adds the tokenizer files as blobs and finishes the file with config and provenance;
    /// `extra` adds command-specific provenance keys.
    func finish(_ writer: TMTWriter, extra: [String: JSONValue]) throws {
        let ready = try prepared.wait()
        var kinds: [String: JSONValue] = [:]
        for blob in ready.blobs {
            try writer.addBlob(name: "tokenizer/\(blob.name)", encoded: blob.encoded)
            kinds[blob.name] = .string(blob.kind)
        }
        var provenance: [String: JSONValue] = [
            "tool": .string("tramontane \(Converter.toolVersion)"),
            "command": .array(command.map { .string($0) }),
            "created": .string(ready.created),
            "source_format": .string(checkpoint.format.rawValue),
            "source_layout": .string(model.sourceLayout),
            "sources": .array(try hashes.wait()),
            "dropped_tensors": .array(model.dropped.map { .string($0) }),
        ]
        provenance.merge(extra) { _, new in new }
        if let parent = checkpoint.tmt?.metadata["provenance"] { provenance["parent"] = parent }
        try writer.finish(metadata: .object([
            "config": ready.config,
            "provenance": .object(provenance),
            "tokenizer": .object(["kinds": .object(kinds)]),
        ]))
    }

    /// Each source file with its size and SHA-256. With `hash` false (`--no-source-hash`) each
    /// is recorded with `"sha256": null`: hashing costs one core about 1 s per 2 GB, as much as
    /// a whole Q4_0 quantization on two cores. With a `cache`, a file hashed before and
    /// unchanged since is not read again (recorded with `"sha256_cached": true`).
    static func sources(_ files: [String], hash: Bool, cache: HashCache?, known: KnownDigests = KnownDigests()) throws -> [JSONValue] {
        try files.map { f in
            let size = (try? FileManager.default.attributesOfItem(atPath: f)[.size] as? Int) ?? 0
            var entry: [String: JSONValue] = ["path": .string(f), "bytes": .int(Int64(size)), "sha256": .null]
            if hash, let digest = known.digest(file: f) {
                entry["sha256"] = .string(digest)
            } else if hash, let cache {
                let (digest, cached) = try cache.sha256(file: f)
                entry["sha256"] = .string(digest)
                if cached { entry["sha256_cached"] = .bool(true) }
            } else if hash {
                entry["sha256"] = .string(try TensorValues.sha256(file: f))
            }
            return .object(entry)
        }
    }
}
