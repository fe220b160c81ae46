import Checkpoints
import CraftedFiles
import Foundation
import ModelFile
import TensorCore

/// Small synthetic seeds that no fixture provides in a small size: `.tmt` files in each codec
/// (the fixtures hold none), and a two-tensor safetensors / importance matrix; the same `.tmt`
/// files split into directory and data for `tmt-directory`, and the tiny GGUF's tokenizer keys
/// as JSON for `gguf-tokenizer`; PyTorch zips of about 1 KB (the fixtures' are ~450 KB: with
/// only those, 30 minutes of the pytorch harness reached coverage 188, with these 1045).
/// Run by scripts/fuzz.sh as `TRAMONTANE_FUZZ=make-seeds TRAMONTANE_FUZZ_SEEDS=<dir> tramontane-fuzz -runs=1`.
func makeSeeds(into dir: String) throws {
    let fm = FileManager.default
    for sub in ["tmt", "safetensors", "imatrix", "gguf", "sharded", "tmt-directory", "gguf-tokenizer", "pytorch"] { try fm.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true) }
    let values: [Float] = (0..<96).map { Float($0) * 0.25 - 7 }
    for codec in TMTCodec.allCases {
        for chunk in [65536] {
            let path = "\(dir)/tmt/\(codec.rawValue)-\(chunk).tmt"
            try? fm.removeItem(atPath: path)
            let w = try TMTWriter(path: path, options: TMTWriterOptions(codec: codec, chunkSize: chunk, threads: 1))
            try values.withUnsafeBytes { try w.addTensor(name: "tok_embeddings.weight", dtype: .f32, shape: [8, 12], bytes: $0) }
            let half = values.prefix(32).map { Float16($0) }
            try half.withUnsafeBytes { try w.addTensor(name: "norm.weight", dtype: .f16, shape: [32], bytes: $0) }
            try Array("{\"dim\": 12}".utf8).withUnsafeBytes { try w.addBlob(name: "params.json", bytes: $0) }
            try w.finish(metadata: .object(["config": .object(["dim": .int(12)]), "format": .string("tmt")]))
            // tmt-directory's framing: the directory, the separator, the data section.
            let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let t = b.count - 64
            let offset = Int(b[(t + 16)..<(t + 24)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            let length = Int(b[(t + 24)..<(t + 32)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            let split = Array(b[offset..<(offset + length)]) + Array("\n--8<--\n".utf8) + Array(b[64..<offset])
            _ = fm.createFile(atPath: "\(dir)/tmt-directory/\(codec.rawValue)-\(chunk)", contents: Data(split))
        }
    }
    func safetensors(_ tensors: [(String, [Int])]) -> [UInt8] {
        SafetensorsBuilder.valid(tensors.map { ($0.0, $0.1, Array(values.prefix($0.1.reduce(1, *)))) }, metadata: ["format": "pt"])
    }
    _ = fm.createFile(atPath: dir + "/gguf/tiny.gguf", contents: Data(tinyGGUF()))
    if let keys = try Checkpoint.open(dir + "/gguf/tiny.gguf").tokenizers.first(where: { $0.kind == "gguf-metadata" }) {
        _ = fm.createFile(atPath: dir + "/gguf-tokenizer/tiny.json", contents: Data(try keys.load().array))
    }
    // The sharded harness's framing: index, config.json, shards (Harness.swift `parts`).
    let index = #"{"metadata":{"total_size":120},"weight_map":{"model.embed_tokens.weight":"model-00001-of-00003.safetensors","model.norm.weight":"model-00002-of-00003.safetensors"}}"#
    let config = #"{"architectures":["MistralForCausalLM"],"model_type":"mistral","hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"head_dim":4,"rms_norm_eps":1e-05,"rope_theta":10000.0,"vocab_size":4,"sliding_window":null,"tie_word_embeddings":false}"#
    let sep = Array("\n--8<--\n".utf8)
    let sharded = Array(index.utf8) + sep + Array(config.utf8) + sep + safetensors([("model.embed_tokens.weight", [4, 8])])
        + sep + safetensors([("model.norm.weight", [8])])
    _ = fm.createFile(atPath: dir + "/sharded/two-shards", contents: Data(sharded))
    _ = fm.createFile(atPath: dir + "/safetensors/two.safetensors",
                  contents: Data(safetensors([("model.embed_tokens.weight", [4, 6]), ("model.norm.weight", [6])])))
    try makePyTorchSeeds(into: dir + "/pytorch", values: values)
    _ = fm.createFile(atPath: dir + "/imatrix/two.safetensors",
                  contents: Data(safetensors([("layers.0.attention.wq.weight", [12]), ("output.weight", [12])])))
}

/// State dicts as `torch.save` writes them (zip of `archive/data.pkl`, `archive/byteorder`,
/// `archive/data/KEY`): HF names in f32 and in bf16 over one shared storage, native names in f16
/// with a transposed view, and a ZIP64 one.
func makePyTorchSeeds(into dir: String, values: [Float]) throws {
    func zip(_ pickle: [UInt8], _ storages: [[UInt8]], zip64: ZipBuilder.Zip64 = .none) -> Data {
        var z = ZipBuilder()
        z.entries = [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))]
            + storages.enumerated().map { ("archive/data/\($0.offset)", $0.element) } + [("archive/version", Array("3\n".utf8))]
        return Data(z.build(zip64: zip64))
    }
    var f32: [UInt8] = [], f16: [UInt8] = [], bf16: [UInt8] = []
    for v in values.prefix(40) {
        f32.appendLE(v.bitPattern); f16.appendLE(Float16(v).bitPattern); bf16.appendLE(UInt16(v.bitPattern >> 16))
    }
    let hf: [(String, [Int64], [Int64], Int64, Int64)] = [("model.embed_tokens.weight", [4, 8], [8, 1], 40, 0), ("model.norm.weight", [8], [1], 40, 32)]
    let native: [(String, [Int64], [Int64], Int64, Int64)] = [("tok_embeddings.weight", [4, 8], [1, 4], 40, 0), ("norm.weight", [8], [1], 40, 32)]
    let fm = FileManager.default
    _ = fm.createFile(atPath: dir + "/hf-f32.bin", contents: zip(PickleBuilder.stateDict(hf), [f32]))
    _ = fm.createFile(atPath: dir + "/hf-bf16.bin", contents: zip(PickleBuilder.stateDict(hf, storageType: "BFloat16Storage"), [bf16]))
    _ = fm.createFile(atPath: dir + "/native-f16.pth", contents: zip(PickleBuilder.stateDict(native, storageType: "HalfStorage"), [f16]))
    _ = fm.createFile(atPath: dir + "/hf-f32-zip64.bin", contents: zip(PickleBuilder.stateDict(hf), [f32], zip64: .forced))
}

/// A GGUF v3 of a few hundred bytes: llama keys, a GPT-2 tokenizer (tokens, types, merges,
/// special ids) and two f32 tensors.
func tinyGGUF() -> [UInt8] {
    var b: [UInt8] = Array("GGUF".utf8)
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    func str(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
    // GPT-2's byte-level alphabet (bytes_to_unicode): the reader wants the byte tokens.
    var alphabet: [String] = []
    var shifted = 0
    for byte in 0..<256 {
        let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
        alphabet.append(String(UnicodeScalar(UInt32(printable ? byte : 256 + shifted))!))
        if !printable { shifted += 1 }
    }
    let tokens = ["<|endoftext|>"] + alphabet + ["ab", "\u{0120}a"]
    var kvs: [(String, () -> Void)] = [
        ("general.architecture", { u32(8); str("llama") }),
        ("general.alignment", { u32(4); u32(32) }),
        ("llama.block_count", { u32(4); u32(1) }),
        ("llama.embedding_length", { u32(4); u32(8) }),
        ("llama.feed_forward_length", { u32(4); u32(16) }),
        ("llama.attention.head_count", { u32(4); u32(2) }),
        ("llama.attention.head_count_kv", { u32(4); u32(1) }),
        ("llama.attention.layer_norm_rms_epsilon", { u32(6); u32(Float(1e-5).bitPattern) }),
        ("llama.rope.freq_base", { u32(6); u32(Float(10000).bitPattern) }),
        ("tokenizer.ggml.model", { u32(8); str("gpt2") }),
        ("tokenizer.ggml.pre", { u32(8); str("smollm") }),
        ("tokenizer.ggml.tokens", { u32(9); u32(8); u64(UInt64(tokens.count)); for t in tokens { str(t) } }),
        ("tokenizer.ggml.token_type", { u32(9); u32(5); u64(UInt64(tokens.count)); for i in tokens.indices { u32(i == 0 ? 3 : 1) } }),
        ("tokenizer.ggml.merges", { u32(9); u32(8); u64(2); str("a b"); str("\u{0120} a") }),
        ("tokenizer.ggml.bos_token_id", { u32(4); u32(0) }),
        ("tokenizer.ggml.eos_token_id", { u32(4); u32(0) }),
    ]
    kvs.append(("tokenizer.ggml.add_bos_token", { u32(7); b.append(0) }))
    let tensors: [(String, [UInt64])] = [("token_embd.weight", [8, UInt64(tokens.count)]), ("output_norm.weight", [8])]
    u32(3); u64(UInt64(tensors.count)); u64(UInt64(kvs.count))
    for (k, write) in kvs { str(k); write() }
    var offset: UInt64 = 0
    var sizes: [Int] = []
    for (name, dims) in tensors {
        str(name); u32(UInt32(dims.count)); for d in dims { u64(d) }
        u32(0); u64(offset)   // F32
        let n = Int(dims.reduce(1, *)) * 4
        sizes.append(n)
        offset += UInt64((n + 31) / 32 * 32)
    }
    while b.count % 32 != 0 { b.append(0) }
    for n in sizes { for i in 0..<((n + 31) / 32 * 32) { b.append(UInt8(truncatingIfNeeded: i * 7)) } }
    return b
}
