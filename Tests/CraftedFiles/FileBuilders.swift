import Foundation
import TensorCore

/// Little-endian bytes of an integer, appended: every builder below writes this way.
extension Array where Element == UInt8 {
    public mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

/// Builds safetensors bytes from a header string and data, so tests can write lying headers.
public enum SafetensorsBuilder {
    public static func file(header: String, data: [UInt8], claimedLength: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        out.appendLE(claimedLength ?? UInt64(h.count))
        out += h
        out += data
        return out
    }

    /// A valid file with one F32 tensor per entry.
    /// `metadata`: a `__metadata__` entry first (string values, in the order given).
    public static func valid(_ tensors: [(String, [Int], [Float])], metadata: KeyValuePairs<String, String> = [:]) -> [UInt8] {
        var entries: [String] = metadata.isEmpty ? []
            : ["\"__metadata__\":{" + metadata.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}"]
        var data: [UInt8] = []
        for (name, shape, values) in tensors {
            let begin = data.count
            for v in values { data.appendLE(v.bitPattern) }
            entries.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(data.count)]}")
        }
        return file(header: "{" + entries.joined(separator: ",") + "}", data: data)
    }
}

/// Writes zip archives of stored entries, optionally with ZIP64 records (as torch does for
/// archives over 4 GiB), so the reader's ZIP64 path is tested without a 4 GiB file.
public struct ZipBuilder {
    public var entries: [(String, [UInt8])] = []
    public init() {}

    /// `hugeUncompressedSize`: ZIP64 records whose entries claim deflate (method 8) and an
    /// uncompressed size of 2^64 − 1.
    public enum Zip64 { case none, forced, saturatedWithoutExtra, badLocator, hugeUncompressedSize }

    public func build(zip64: Zip64 = .none) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (name, data) in entries {
            let offset = out.count
            let n = Array(name.utf8)
            out.appendLE(UInt32(0x0403_4B50)); out.appendLE(UInt16(20)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
            out.appendLE(UInt32(0)); out.appendLE(UInt32(0))
            out.appendLE(UInt32(data.count)); out.appendLE(UInt32(data.count))
            out.appendLE(UInt16(n.count)); out.appendLE(UInt16(0))
            out += n
            out += data
            let big = zip64 != .none
            central.appendLE(UInt32(0x0201_4B50)); central.appendLE(UInt16(45)); central.appendLE(UInt16(45))
            central.appendLE(UInt16(0)); central.appendLE(UInt16(zip64 == .hugeUncompressedSize ? 8 : 0)); central.appendLE(UInt32(0)); central.appendLE(UInt32(0))
            central.appendLE(big ? UInt32.max : UInt32(data.count)); central.appendLE(big ? UInt32.max : UInt32(data.count))
            central.appendLE(UInt16(n.count))
            let extra: [UInt8] = {
                guard zip64 == .forced || zip64 == .badLocator || zip64 == .hugeUncompressedSize else { return [] }
                var e: [UInt8] = []
                e.appendLE(UInt16(1)); e.appendLE(UInt16(24))
                e.appendLE(zip64 == .hugeUncompressedSize ? UInt64.max : UInt64(data.count)); e.appendLE(UInt64(data.count)); e.appendLE(UInt64(offset))
                return e
            }()
            central.appendLE(UInt16(extra.count)); central.appendLE(UInt16(0)); central.appendLE(UInt16(0))
            central.appendLE(UInt16(0)); central.appendLE(UInt32(0))
            central.appendLE(big ? UInt32.max : UInt32(offset))
            central += n
            central += extra
        }
        let cdOffset = out.count
        out += central
        if zip64 != .none {
            let recordOffset = out.count
            out.appendLE(UInt32(0x0606_4B50)); out.appendLE(UInt64(44)); out.appendLE(UInt16(45)); out.appendLE(UInt16(45))
            out.appendLE(UInt32(0)); out.appendLE(UInt32(0))
            out.appendLE(UInt64(entries.count)); out.appendLE(UInt64(entries.count))
            out.appendLE(UInt64(central.count)); out.appendLE(UInt64(cdOffset))
            out.appendLE(UInt32(0x0706_4B50)); out.appendLE(UInt32(0))
            out.appendLE(zip64 == .badLocator ? UInt64(3) : UInt64(recordOffset)); out.appendLE(UInt32(1))
        }
        out.appendLE(UInt32(0x0605_4B50)); out.appendLE(UInt16(0)); out.appendLE(UInt16(0))
        out.appendLE(zip64 == .none ? UInt16(entries.count) : UInt16.max); out.appendLE(zip64 == .none ? UInt16(entries.count) : UInt16.max)
        out.appendLE(zip64 == .none ? UInt32(central.count) : UInt32.max); out.appendLE(zip64 == .none ? UInt32(cdOffset) : UInt32.max)
        out.appendLE(UInt16(0))
        return out
    }
}

/// Hand-written pickles, opcode by opcode, for the allow-list tests.
public struct PickleBuilder {
    public var bytes: [UInt8] = [0x80, 0x02]
    public init() {}
    public mutating func op(_ b: UInt8) { bytes.append(b) }
    public mutating func global(_ module: String, _ name: String) { bytes.append(0x63); bytes += Array("\(module)\n\(name)\n".utf8) }
    public mutating func string(_ s: String) { let u = Array(s.utf8); bytes.append(0x58); bytes.appendLE(UInt32(u.count)); bytes += u }
    public mutating func int(_ v: Int32) { bytes.append(0x4A); bytes.appendLE(v) }
    /// BININT when `v` fits in 32 bits, else LONG1 with 8 bytes (two's complement).
    public mutating func int(_ v: Int64) {
        if let small = Int32(exactly: v) { return int(small) }
        bytes += [0x8A, 8]; bytes.appendLE(v)
    }
    public mutating func none() { bytes.append(0x4E) }
    public mutating func emptyList() { bytes.append(0x5D) }
    public mutating func append() { bytes.append(0x61) }
    public mutating func tuple1() { bytes.append(0x85) }
    public mutating func memoize(_ key: UInt8) { bytes += [0x71, key] }   // BINPUT
    public mutating func memoGet(_ key: UInt8) { bytes += [0x68, key] }   // BINGET
    public mutating func mark() { bytes.append(0x28) }
    public mutating func tuple() { bytes.append(0x74) }
    public mutating func reduce() { bytes.append(0x52) }
    public mutating func stop() { bytes.append(0x2E) }
    public mutating func emptyDict() { bytes.append(0x7D) }
    public mutating func setItem() { bytes.append(0x73) }
    public mutating func persistentID() { bytes.append(0x51) }

    /// `{name: _rebuild_tensor_v2(storage('0', FloatStorage, n), 0, shape, stride, False, OrderedDict())}`.
    public static func stateDict(tensor name: String, shape: [Int64], stride: [Int64], count: Int64, offset: Int64 = 0,
                                 storageType: String = "FloatStorage") -> [UInt8] {
        stateDict([(name, shape, stride, count, offset)], storageType: storageType)
    }

    /// The same with several tensors, all views of storage '0' of `count` elements.
    public static func stateDict(_ tensors: [(name: String, shape: [Int64], stride: [Int64], count: Int64, offset: Int64)],
                                 storageType: String = "FloatStorage") -> [UInt8] {
        var p = PickleBuilder()
        p.emptyDict()
        for t in tensors {
            p.tensorItem(t.name, shape: t.shape, stride: t.stride, count: t.count, offset: t.offset, storageType: storageType)
            p.setItem()
        }
        p.stop()
        return p.bytes
    }

    /// Pushes `name` and `_rebuild_tensor_v2(storage('0', storageType, count), offset, shape, stride, …)`:
    /// a key and value for SETITEM.
    public mutating func tensorItem(_ name: String, shape: [Int64], stride: [Int64], count: Int64, offset: Int64 = 0,
                                    storageType: String = "FloatStorage") {
        string(name)
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark(); string("storage"); global("torch", storageType); string("0"); string("cpu"); int(count); tuple()
        persistentID()
        int(offset)
        mark(); for d in shape { int(d) }; tuple()
        mark(); for s in stride { int(s) }; tuple()
        op(0x89)
        global("collections", "OrderedDict"); op(0x29); reduce()
        tuple()
        reduce()
    }
}

/// Writes `.tmt` files from parts (formats/tmt.md), independently of `TMTWriter`, so tests can
/// make files the writer never would: items whose chunks decode to far more than they store,
/// sizes near `Int.max`, headers with flags set.
public struct TMTBuilder {
    public struct Item {
        public var name: String
        public var dtype: String?
        public var shape: [Int]?
        public var codec: String
        public var elementSize: Int?
        /// Decoded bytes, as declared.
        public var size: Int
        public var chunkSize: Int
        /// Each chunk's stored bytes.
        public var chunks: [[UInt8]]
        /// XXH64 of the decoded item, as declared.
        public var xxh64: UInt64

        public init(name: String, dtype: String? = nil, shape: [Int]? = nil, codec: String, elementSize: Int? = nil,
                    size: Int, chunkSize: Int, chunks: [[UInt8]], xxh64: UInt64) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.codec = codec; self.elementSize = elementSize
            self.size = size; self.chunkSize = chunkSize; self.chunks = chunks; self.xxh64 = xxh64
        }
    }

    public var header: [UInt8] = Array("TMTMODEL".utf8) + [1, 0, 0, 0] + [UInt8](repeating: 0, count: 52)
    public var tensors: [Item] = []
    public var blobs: [Item] = []
    /// The directory's `metadata` JSON, as written.
    public var metadata = "{}"
    public init() {}

    /// Header, each item's chunks from a 64-byte boundary (zero padding), directory, trailer.
    public func build() -> [UInt8] {
        var out = header
        func entry(_ item: Item) -> String {
            while out.count % 64 != 0 { out.append(0) }
            let offset = out.count
            var chunks: [String] = []
            for c in item.chunks {
                out += c
                chunks.append("[\(c.count),\"\(c.withUnsafeBytes { XXH64.hash($0) }.hex16)\"]")
            }
            var fields = ["\"name\":\"\(item.name)\"", "\"codec\":\"\(item.codec)\"", "\"offset\":\(offset)",
                          "\"stored_size\":\(out.count - offset)", "\"size\":\(item.size)", "\"chunk_size\":\(item.chunkSize)",
                          "\"chunks\":[\(chunks.joined(separator: ","))]", "\"xxh64\":\"\(item.xxh64.hex16)\""]
            if let d = item.dtype { fields.append("\"dtype\":\"\(d)\"") }
            if let s = item.shape { fields.append("\"shape\":\(s)") }
            if let k = item.elementSize { fields.append("\"element_size\":\(k)") }
            return "{" + fields.joined(separator: ",") + "}"
        }
        let t = tensors.map(entry), b = blobs.map(entry)
        let json = Array("{\"format\":\"tmt\",\"version\":1,\"metadata\":\(metadata),\"blobs\":[\(b.joined(separator: ","))],\"tensors\":[\(t.joined(separator: ","))]}".utf8)
        let directoryOffset = out.count
        out += json
        var trailer: [UInt8] = Array("TMTINDEX".utf8)
        trailer.appendLE(UInt32(1)); trailer.appendLE(UInt32(0))
        trailer.appendLE(UInt64(directoryOffset)); trailer.appendLE(UInt64(json.count))
        trailer.appendLE(json.withUnsafeBytes { XXH64.hash($0) }); trailer.appendLE(UInt64(out.count + 64))
        trailer.appendLE(UInt64(0))
        trailer.appendLE(trailer.withUnsafeBytes { XXH64.hash($0) })
        return out + trailer
    }

    /// One zstd frame that decodes to `count` zero bytes, written by hand (RFC 8878): a frame
    /// header with a 128 KiB window and no content size, then RLE blocks of up to 128 KiB, four
    /// bytes each — about 32 000 decoded bytes per stored byte, as a decompression bomb has.
    public static func zstdZeros(_ count: Int) -> [UInt8] {
        var f: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38]
        var left = count
        repeat {
            let n = min(left, 128 << 10)
            left -= n
            let blockHeader = UInt32(left == 0 ? 1 : 0) | (1 << 1) | (UInt32(n) << 3)  // last?, RLE, size
            f += [UInt8(blockHeader & 0xFF), UInt8((blockHeader >> 8) & 0xFF), UInt8(blockHeader >> 16), 0]
        } while left > 0
        return f
    }

    /// XXH64 of `count` zero bytes, hashed a buffer at a time.
    public static func xxh64OfZeros(_ count: Int) -> UInt64 {
        let zeros = [UInt8](repeating: 0, count: min(count, 64 << 20))
        var h = XXH64()
        var left = count
        while left > 0 {
            let n = min(left, zeros.count)
            zeros.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            left -= n
        }
        return h.finalize()
    }
}

/// Writes GGUF v3 files from metadata and tensor infos, so tests can give any key any type
/// and value (a block count of 2^40, a negative expert count, a token_type array one short of
/// the tokens).
public struct GGUFBuilder {
    public enum Value {
        case u32(UInt32), i32(Int32), u64(UInt64), i64(Int64), f32(Float), string(String)
        /// GGUF type 9: the element type's number and the elements (all of that type).
        case array(UInt32, [Value])
        public static func strings(_ s: [String]) -> Value { .array(8, s.map { .string($0) }) }
        public static func i32s(_ v: [Int32]) -> Value { .array(5, v.map { .i32($0) }) }
        public static func f32s(_ v: [Float]) -> Value { .array(6, v.map { .f32($0) }) }
    }
    public var metadata: [(String, Value)] = []
    /// Name, dimensions (innermost first, as GGUF stores them), ggml type; F32 data follows.
    public var tensors: [(String, [UInt64], UInt32)] = []
    public init() {}

    public func build() -> [UInt8] {
        var b: [UInt8] = Array("GGUF".utf8)
        b.appendLE(UInt32(3)); b.appendLE(UInt64(tensors.count)); b.appendLE(UInt64(metadata.count))
        func str(_ s: String) { b.appendLE(UInt64(s.utf8.count)); b += Array(s.utf8) }
        func value(_ v: Value, typed: Bool) {
            func type(_ t: UInt32) { if typed { b.appendLE(t) } }
            switch v {
            case .u32(let x): type(4); b.appendLE(x)
            case .i32(let x): type(5); b.appendLE(x)
            case .f32(let x): type(6); b.appendLE(x.bitPattern)
            case .string(let s): type(8); str(s)
            case .array(let t, let items):
                type(9); b.appendLE(t); b.appendLE(UInt64(items.count))
                for item in items { value(item, typed: false) }
            case .u64(let x): type(10); b.appendLE(x)
            case .i64(let x): type(11); b.appendLE(x)
            }
        }
        for (k, v) in metadata {
            str(k)
            value(v, typed: true)
        }
        var offset: UInt64 = 0
        var sizes: [Int] = []
        for (name, dims, type) in tensors {
            str(name); b.appendLE(UInt32(dims.count)); for d in dims { b.appendLE(d) }
            b.appendLE(type); b.appendLE(offset)
            let n = Int(dims.reduce(1, *)) * 4
            sizes.append(n)
            offset += UInt64((n + 31) / 32 * 32)
        }
        while b.count % 32 != 0 { b.append(0) }
        for n in sizes { b += [UInt8](repeating: 0, count: (n + 31) / 32 * 32) }
        return b
    }
}

extension GGUFBuilder {
    /// GPT-2's byte-level alphabet (`bytes_to_unicode`): the 256 tokens a gpt2 vocabulary holds.
    public static let byteAlphabet: [String] = {
        var out: [String] = [], shifted: UInt32 = 0
        for b in UInt32(0)..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            out.append(String(Character(Unicode.Scalar(printable ? b : 256 + shifted) ?? " ")))
            if !printable { shifted += 1 }
        }
        return out
    }()

    /// A llama-architecture GGUF (an 8-wide, one-layer config; no tensors) with a tokenizer of
    /// `model` (`gpt2`, or `llama` as llama.cpp's Mistral GGUFs carry): the byte alphabet, "aa"
    /// and "ab" (ids 256, 257), `filler` more tokens (past 1024 the reader defers the arrays),
    /// one token_type and one score per token, the two merges, BOS 256 and EOS 257. Set keys
    /// with `set` to make it lie.
    public static func withTokenizer(model: String = "gpt2", filler: Int = 0) -> GGUFBuilder {
        let tokens = byteAlphabet + ["aa", "ab"] + (0..<filler).map { "filler\($0)" }
        var g = GGUFBuilder()
        g.metadata = [
            ("general.architecture", .string("llama")), ("llama.embedding_length", .u32(8)), ("llama.block_count", .u32(1)),
            ("llama.feed_forward_length", .u32(16)), ("llama.attention.head_count", .u32(2)),
            ("llama.vocab_size", .u32(UInt32(tokens.count))), ("tokenizer.ggml.model", .string(model)), ("tokenizer.ggml.tokens", .strings(tokens)),
            ("tokenizer.ggml.token_type", .i32s(tokens.map { _ in 1 })),
            ("tokenizer.ggml.scores", .f32s(tokens.indices.map { -Float($0) })),
            ("tokenizer.ggml.merges", .strings(["a a", "a b"])),
            ("tokenizer.ggml.bos_token_id", .u32(256)), ("tokenizer.ggml.eos_token_id", .u32(257)),
        ]
        return g
    }

    /// Zero-valued F32 tensors of every weight `withTokenizer`'s one-layer config needs (dim 8,
    /// FFN 16, 2 heads, `vocabulary` rows), under GGUF's names, so the file converts.
    public mutating func addModelTensors(vocabulary: Int) {
        let v = UInt64(vocabulary)
        tensors = [("token_embd.weight", [8, v], 0), ("output_norm.weight", [8], 0), ("output.weight", [8, v], 0)]
        for n in ["attn_q", "attn_k", "attn_v", "attn_output"] { tensors.append(("blk.0.\(n).weight", [8, 8], 0)) }
        for n in ["attn_norm", "ffn_norm"] { tensors.append(("blk.0.\(n).weight", [8], 0)) }
        tensors += [("blk.0.ffn_gate.weight", [8, 16], 0), ("blk.0.ffn_up.weight", [8, 16], 0), ("blk.0.ffn_down.weight", [16, 8], 0)]
    }

    /// Replaces the value of `key`, or adds the key.
    public mutating func set(_ key: String, _ value: Value) {
        if let i = metadata.firstIndex(where: { $0.0 == key }) { metadata[i].1 = value } else { metadata.append((key, value)) }
    }

    /// Removes `key`.
    public mutating func remove(_ key: String) { metadata.removeAll { $0.0 == key } }
}
