import Foundation
import ModelFile
import TensorCore

/// A tokenizer file travelling with a model: `tokenizer.model` (SentencePiece), `tekken.json`,
/// `tokenizer.json` (Hugging Face), or GGUF's `tokenizer.*` metadata as JSON.
public struct TokenizerFile: Sendable {
    public var name: String
    public var kind: String
    /// Run on a background thread by `convert` and `quantize`.
    public var load: @Sendable () throws -> ByteRegion
}

/// Everything read from a checkpoint before it is remapped: tensors under their source names,
/// the configuration, format metadata, tokenizer files and the files it came from.
public struct Checkpoint {
    public enum Format: String, Sendable {
        case safetensors, shardedSafetensors = "sharded-safetensors", pytorch, shardedPytorch = "sharded-pytorch", gguf, tmt
    }

    public var path: String
    public var format: Format
    public var tensors: [SourceTensor]
    public var config: ModelConfig?
    public var configPath: String?
    public var metadata: JSONValue
    public var tokenizers: [TokenizerFile]
    public var files: [String]
    /// For `.tmt`: the open file (blobs, codecs, provenance).
    public var tmt: TMTFile?
    /// Files read while opening that `files` does not list (a `params.json` passed over for the
    /// `config.json` beside it).
    var alsoRead: [String] = []

    /// Every file this checkpoint was or will be read from: an output must not be one of them.
    public var inputs: [String] { files + alsoRead }

    public var layout: String { format == .tmt ? "native" : Layout.detect(tensors.map(\.name)) }

    /// Remaps to Mistral's native layout. Needs a configuration.
    public func native() throws -> NativeModel {
        guard let config else {
            throw CheckpointError.missingFile(path: path, detail: "no config.json or params.json next to the weights: the model's shape is needed to remap it")
        }
        return try Layout.toNative(tensors, config: config, layout: layout)
    }
}

extension Checkpoint {
    static let tokenizerNames: [(String, String)] = [
        ("tekken.json", "tekken"), ("tokenizer.model", "sentencepiece"), ("tokenizer.model.v3", "sentencepiece"),
        ("tokenizer.model.v1", "sentencepiece"), ("tokenizer.json", "hf-tokenizer-json"),
        ("tokenizer_config.json", "hf-tokenizer-config"),
    ]

    /// Opens a checkpoint file or folder, detecting the format from names and magic bytes.
    public static func open(_ path: String) throws -> Checkpoint {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CheckpointError.missingFile(path: path, detail: "no such file or folder")
        }
        if isDir.boolValue { return try openFolder(path) }
        let dir = (path as NSString).deletingLastPathComponent
        if path.hasSuffix(".index.json") { return try openIndex(path, folder: dir.isEmpty ? "." : dir) }
        let file = try MappedFile(path: path)
        let b = file.bytes
        if TMTFile.hasMagic(b) { return try openTMT(path) }
        if GGUFFile.hasMagic(b) { return try openGGUF(file) }
        var c: Checkpoint
        if ZipArchive.hasMagic(b) || (b.count >= 2 && b[0] == 0x80) {
            c = Checkpoint(path: path, format: .pytorch, tensors: try PyTorchArchive.read(file), metadata: .object([:]), tokenizers: [], files: [path])
        } else if Safetensors.hasMagic(b) {
            let (t, m) = try Safetensors.read(file)
            c = Checkpoint(path: path, format: .safetensors, tensors: t, metadata: .object(m.mapValues { .string($0) }), tokenizers: [], files: [path])
        } else {
            throw CheckpointError.unrecognizedFormat(path: path, detail: "not safetensors, a torch zip archive, GGUF or .tmt (first bytes \(Array(b.prefix(8))))")
        }
        try c.addSidecars(folder: dir.isEmpty ? "." : dir)
        return c
    }

    static func openFolder(_ dir: String) throws -> Checkpoint {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        func p(_ n: String) -> String { (dir as NSString).appendingPathComponent(n) }
        if names.contains("model.safetensors.index.json") { return try openIndex(p("model.safetensors.index.json"), folder: dir) }
        if names.contains("pytorch_model.bin.index.json") { return try openIndex(p("pytorch_model.bin.index.json"), folder: dir) }
        let safetensors = names.filter { $0.hasSuffix(".safetensors") }
        let pth = names.filter { $0.hasSuffix(".pth") || $0 == "pytorch_model.bin" }
        let ggufs = names.filter { $0.hasSuffix(".gguf") }
        let tmts = names.filter { $0.hasSuffix(".tmt") }
        if safetensors.count == 1 { return try open(p(safetensors[0])) }
        if safetensors.count > 1 { return try openShards(safetensors.map(p), format: .shardedSafetensors, folder: dir).0 }
        if pth.count == 1 { return try open(p(pth[0])) }
        if pth.count > 1 {
            throw CheckpointError.unrecognizedFormat(path: dir, detail: "\(pth.count) .pth files: tensor-parallel shards (\(pth.joined(separator: ", "))) are not supported; convert one consolidated file")
        }
        if ggufs.count == 1 { return try open(p(ggufs[0])) }
        if tmts.count == 1 { return try open(p(tmts[0])) }
        let held = names.isEmpty ? "the folder is empty"
            : "it holds \(names.prefix(8).joined(separator: ", "))\(names.count > 8 ? " … (\(names.count) files)" : "")"
        throw CheckpointError.missingFile(path: dir, detail: "no weights found: looked for model.safetensors.index.json, pytorch_model.bin.index.json, *.safetensors, pytorch_model.bin, *.pth, *.gguf and *.tmt; \(held). Give the folder that holds the weights, or a weight file")
    }

    /// A sharded checkpoint through its index (`weight_map`: tensor → shard file).
    static func openIndex(_ indexPath: String, folder: String) throws -> Checkpoint {
        let data = try MappedFile(path: indexPath)
        let json: JSONValue
        do { json = try JSONParser.parse(data.bytes) } catch { throw CheckpointError.invalidHeader(path: indexPath, detail: "\(error)") }
        guard let map = json["weight_map"]?.objectValue else { throw CheckpointError.invalidHeader(path: indexPath, detail: "no weight_map object") }
        var shards: [String] = []
        for (tensor, v) in map {
            guard let f = v.stringValue, !f.contains("/"), !f.hasPrefix(".") else {
                throw CheckpointError.invalidHeader(path: indexPath, detail: "weight_map[\(tensor)] is not a file name in the same folder")
            }
            if !shards.contains(f) { shards.append(f) }
        }
        shards.sort()
        let format: Format = indexPath.hasSuffix("model.safetensors.index.json") || shards.allSatisfy({ $0.hasSuffix(".safetensors") }) ? .shardedSafetensors : .shardedPytorch
        var (c, owner) = try openShards(shards.map { (folder as NSString).appendingPathComponent($0) }, format: format, folder: folder)
        // Every tensor must be where the index says, and the index must name every tensor.
        for (tensor, v) in map {
            guard let shard = v.stringValue, let at = owner[tensor] else {
                throw CheckpointError.invalidHeader(path: indexPath, detail: "index names tensor \(tensor), which no shard holds")
            }
            guard (at as NSString).lastPathComponent == shard else {
                throw CheckpointError.invalidHeader(path: indexPath, detail: "index puts \(tensor) in \(shard), found in \(at)")
            }
        }
        if c.tensors.count != map.count {
            let extra = c.tensors.map(\.name).filter { map[$0] == nil }
            throw CheckpointError.invalidHeader(path: indexPath, detail: "shards hold tensors the index does not name: \(extra.prefix(10).joined(separator: ", "))")
        }
        c.path = indexPath
        c.files.insert(indexPath, at: 0)
        return c
    }

    /// Reads every shard; returns the checkpoint and which file holds each tensor.
    static func openShards(_ paths: [String], format: Format, folder: String) throws -> (Checkpoint, [String: String]) {
        var tensors: [SourceTensor] = []
        var owner: [String: String] = [:]
        for p in paths {
            let file = try MappedFile(path: p)
            let ts: [SourceTensor]
            if Safetensors.hasMagic(file.bytes) { ts = try Safetensors.read(file).tensors }
            else if ZipArchive.hasMagic(file.bytes) { ts = try PyTorchArchive.read(file) }
            else { throw CheckpointError.unrecognizedFormat(path: p, detail: "shard is neither safetensors nor a torch zip archive") }
            for t in ts {
                if let o = owner[t.name] { throw CheckpointError.duplicateTensor(name: t.name, files: [o, p]) }
                owner[t.name] = p
            }
            tensors += ts
        }
        var c = Checkpoint(path: folder, format: format, tensors: tensors, metadata: .object([:]), tokenizers: [], files: paths)
        try c.addSidecars(folder: folder)
        return (c, owner)
    }

    /// Reads `params.json` / `config.json` and finds tokenizer files in the folder.
    mutating func addSidecars(folder: String) throws {
        func p(_ n: String) -> String { (folder as NSString).appendingPathComponent(n) }
        let fm = FileManager.default
        for (name, reader) in [("params.json", ModelConfig.fromParams), ("config.json", ModelConfig.fromHuggingFace)] where config == nil {
            let path = p(name)
            guard fm.fileExists(atPath: path) else { continue }
            let file = try MappedFile(path: path)
            let json: JSONValue
            do { json = try JSONParser.parse(file.bytes) } catch { throw CheckpointError.invalidConfig(path: path, detail: "\(error)") }
            // A folder may hold both; the one matching the tensor names wins.
            let wantHF = Layout.detect(tensors.map(\.name)) == "hf"
            if (name == "params.json" && wantHF) && fm.fileExists(atPath: p("config.json")) { alsoRead.append(path); continue }
            config = try reader(json, path)
            configPath = path
            files.append(path)
        }
        for (name, kind) in Checkpoint.tokenizerNames where fm.fileExists(atPath: p(name)) {
            let path = p(name)
            tokenizers.append(TokenizerFile(name: name, kind: kind) { try ByteRegion.mapping(path) })
            files.append(path)
        }
    }

    static func openGGUF(_ file: MappedFile) throws -> Checkpoint {
        let gguf = try GGUFFile(file)
        var meta: [String: JSONValue] = [:]
        var tok: [String] = []
        for k in gguf.keys {
            if k.hasPrefix("tokenizer.") { tok.append(k) } else { meta[k] = gguf.value(k) }
        }
        meta["gguf.version"] = .int(Int64(gguf.version))
        var tokenizers: [TokenizerFile] = []
        if !tok.isEmpty {
            // Converted when the tokenizer is wanted (GGUF defers its long arrays).
            tokenizers.append(TokenizerFile(name: "gguf-tokenizer.json", kind: "gguf-metadata") { [tok] in
                var object: [String: JSONValue] = [:]
                for k in tok { object[k] = gguf.value(k) }
                return try JSONWriter.bytes(.object(object)).withUnsafeBytes { try ByteRegion.copying($0) }
            })
        }
        return Checkpoint(path: file.path, format: .gguf, tensors: gguf.tensors, config: try ModelConfig.fromGGUF(gguf),
                          configPath: file.path, metadata: .object(meta), tokenizers: tokenizers, files: [file.path])
    }

    static func openTMT(_ path: String) throws -> Checkpoint {
        let tmt = try TMTFile(path: path)
        let tensors = tmt.tensors.map { item in
            SourceTensor(name: item.name, dtype: item.dtype ?? .u8, shape: item.shape ?? [item.size], origin: "\(path):\(item.name)") {
                try tmt.data(of: item)
            }
        }
        var config: ModelConfig?
        if let c = tmt.metadata["config"] { config = try ModelConfig.fromNativeJSON(c, path: path) }
        let tokenizers = tmt.blobs.filter { $0.name.hasPrefix("tokenizer/") }.map { item in
            TokenizerFile(name: String(item.name.dropFirst("tokenizer/".count)),
                          kind: tmt.metadata["tokenizer"]?["kinds"]?[String(item.name.dropFirst("tokenizer/".count))]?.stringValue ?? "unknown") {
                try tmt.data(of: item)
            }
        }
        return Checkpoint(path: path, format: .tmt, tensors: tensors, config: config, configPath: path,
                          metadata: tmt.metadata, tokenizers: tokenizers, files: [path], tmt: tmt)
    }
}
