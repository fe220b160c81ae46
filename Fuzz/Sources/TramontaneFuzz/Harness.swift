import Checkpoints
import Foundation
import ModelFile
import Pipeline
import TensorCore
import Tokenizers

// Each harness hands the fuzzer's bytes to a real public parsing entry point and swallows every
// thrown error: a typed refusal is the right answer to bad input. Only crashes (traps, ASan
// reports), hangs (-timeout) and runaway memory (-rss_limit_mb, -malloc_limit_mb) are findings.

/// Inputs that name several files (a sharded index and its shards) are split on this line.
let partSeparator = Array("\n--8<--\n".utf8)

struct Harness {
    let name: String
    let about: String
    let run: ([UInt8]) throws -> Void
}

/// A private folder per process; files in it are rewritten for every input.
let scratch: String = {
    let dir = NSTemporaryDirectory() + "tramontane-fuzz-\(getpid())"
    try? FileManager.default.removeItem(atPath: dir)
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

/// Empties the scratch folder and writes `files` into it; returns the folder.
func writeFolder(_ files: [(String, [UInt8])]) -> String {
    if let names = try? FileManager.default.contentsOfDirectory(atPath: scratch) {
        for n in names { try? FileManager.default.removeItem(atPath: scratch + "/" + n) }
    }
    for (name, bytes) in files {
        _ = FileManager.default.createFile(atPath: scratch + "/" + name, contents: Data(bytes))
    }
    return scratch
}

func writeFile(_ name: String, _ bytes: [UInt8]) -> String {
    writeFolder([(name, bytes)]) + "/" + name
}

/// Splits on `partSeparator`.
func parts(_ bytes: [UInt8]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var start = 0, i = 0
    let s = partSeparator
    while i + s.count <= bytes.count {
        if bytes[i] == s[0] && Array(bytes[i..<(i + s.count)]) == s {
            out.append(Array(bytes[start..<i])); i += s.count; start = i
        } else { i += 1 }
    }
    out.append(Array(bytes[start...]))
    return out
}

/// A `.tmt` around `directory` and `data` whose header and trailer are right (magic, version,
/// the directory's place, length and checksum, the trailer's checksum), so the fuzzer's changes
/// to the directory reach its parser and checks instead of the checksum that covers it.
func tmtFraming(directory: [UInt8], data: [UInt8]) -> [UInt8] {
    var file = Array("TMTMODEL".utf8)
    withUnsafeBytes(of: UInt32(1).littleEndian) { file += $0 }
    file += [UInt8](repeating: 0, count: 64 - file.count)
    file += data
    let directoryOffset = UInt64(file.count)
    file += directory
    var trailer = Array("TMTINDEX".utf8)
    func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { trailer += $0 } }
    put(UInt32(1)); put(UInt32(0))
    put(directoryOffset); put(UInt64(directory.count))
    put(directory.withUnsafeBytes { XXH64.hash($0) })
    put(UInt64(file.count + 64)); put(UInt64(0))
    put(trailer.withUnsafeBytes { XXH64.hash($0) })
    return file + trailer
}

/// What a checkpoint's users do after opening it: read the tensors' bytes, remap, load the tokenizer.
func exercise(_ c: Checkpoint) {
    for t in c.tensors.prefix(64) { _ = try? t.load().withBytes { $0.count } }
    _ = try? c.native()
    _ = try? TokenizerLoader.load(c)
}

/// A tokenizer that was accepted must encode and decode without trapping.
func exercise(_ t: any Tokenizer) {
    let ids = t.encode("Hello, world! 123 ünïcödé 🙂\n  tabs\tand  spaces")
    _ = t.decode(ids)
    _ = t.decode([0, 1, 2, max(0, t.vocabularySize - 1)])
}

let harnesses: [Harness] = [
    Harness(name: "safetensors", about: "one .safetensors file through Checkpoint.open") { b in
        exercise(try Checkpoint.open(writeFile("model.safetensors", b)))
    },
    Harness(name: "sharded", about: "model.safetensors.index.json, config.json and three shards, split on \\n--8<--\\n, through Checkpoint.open(folder)") { b in
        let p = parts(b)
        let names = ["model.safetensors.index.json", "config.json",
                     "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]
        exercise(try Checkpoint.open(writeFolder(Array(zip(names, p)))))
    },
    Harness(name: "pytorch", about: "a PyTorch zip (pytorch_model.bin: central directory, data.pkl through the unpickler, storages) through Checkpoint.open") { b in
        exercise(try Checkpoint.open(writeFile("pytorch_model.bin", b)))
    },
    Harness(name: "gguf", about: "a .gguf through Checkpoint.open (config from GGUF keys, GGUF tokenizer)") { b in
        exercise(try Checkpoint.open(writeFile("model.gguf", b)))
    },
    Harness(name: "tmt", about: "a .tmt through TMTFile(path:) + verify() and Checkpoint.open") { b in
        let path = writeFile("model.tmt", b)
        let f = try TMTFile(path: path)
        try? f.verify(threads: 1)
        exercise(try Checkpoint.open(path))
    },
    Harness(name: "tmt-directory", about: "a .tmt directory (JSON) and data section, split on \\n--8<--\\n, framed with a valid header and trailer, through TMTFile + verify() and Checkpoint.open") { b in
        let p = parts(b)
        let path = writeFile("model.tmt", tmtFraming(directory: p[0], data: p.count > 1 ? p[1] : []))
        let f = try TMTFile(path: path)
        try? f.verify(threads: 1)
        for item in f.blobs.prefix(16) { _ = try? f.data(of: item, threads: 1) }
        exercise(try Checkpoint.open(path))
    },
    Harness(name: "gguf-tokenizer", about: "GGUF tokenizer.* keys as JSON (as a .tmt embeds them) through TokenizerLoader.check and ByteLevelBPE(ggufMetadata:)") { b in
        try? b.withUnsafeBytes { try TokenizerLoader.check(kind: "gguf-metadata", name: "gguf-tokenizer.json", bytes: $0, vocabulary: 1 << 24) }
        exercise(try ByteLevelBPE(ggufMetadata: b.withUnsafeBytes { try JSONParser.parse($0) }))
    },
    Harness(name: "sentencepiece", about: "a SentencePiece .model protobuf through SentencePieceBPE(model:)") { b in
        exercise(try SentencePieceBPE(model: b))
    },
    Harness(name: "tekken", about: "tekken.json through Tekken(json:)") { b in
        exercise(try b.withUnsafeBytes { try Tekken(json: $0) })
    },
    Harness(name: "tokenizer-json", about: "Hugging Face tokenizer.json through ByteLevelBPE(huggingFaceJSON:)") { b in
        exercise(try b.withUnsafeBytes { try ByteLevelBPE(huggingFaceJSON: $0) })
    },
    Harness(name: "config", about: "config.json / params.json through JSONParser and ModelConfig.fromHuggingFace / fromParams") { b in
        let v = try b.withUnsafeBytes { try JSONParser.parse($0) }
        _ = try? ModelConfig.fromHuggingFace(v, path: "config.json")
        _ = try? ModelConfig.fromParams(v, path: "params.json")
    },
    Harness(name: "imatrix", about: "an importance-matrix safetensors through ImportanceMatrix.read") { b in
        _ = try ImportanceMatrix.read(writeFile("imatrix.safetensors", b))
    },
]

/// Ends the process without libFuzzer's atexit hook, which reports any exit from inside the
/// target as a finding ("fuzz target exited").
func quit(_ status: Int32) -> Never {
    fflush(stdout)
    _exit(status)
}

let selected: Harness? = {
    let env = ProcessInfo.processInfo.environment
    let name = env["TRAMONTANE_FUZZ"] ?? ""
    if name == "make-seeds", let dir = env["TRAMONTANE_FUZZ_SEEDS"] {
        do { try makeSeeds(into: dir); quit(0) } catch { print("make-seeds: \(error)"); quit(1) }
    }
    if name == "list" {
        for h in harnesses { print("\(h.name)\t\(h.about)") }
        quit(0)
    }
    return harnesses.first { $0.name == name }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let harness = selected else {
        FileHandle.standardError.write(Data("set TRAMONTANE_FUZZ to one of: \(harnesses.map(\.name).joined(separator: ", "))\n".utf8))
        quit(2)
    }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do { try harness.run(bytes) } catch {}
    return 0
}

// SwiftPM links an executable with `--defsym main=tramontane_fuzz_main` (its renamed entry point,
// so tests can import executables); with -parse-as-library there is no such function. This one
// hands control to libFuzzer's driver, which is what libFuzzer's own main() does.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

@_cdecl("tramontane_fuzz_main")
public func tramontaneFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) }
}
