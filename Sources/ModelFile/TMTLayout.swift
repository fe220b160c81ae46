import TensorCore

/// Constants and the fixed-size header and trailer of `.tmt` (see formats/tmt.md).
public enum TMTLayout {
    package static let version: UInt32 = 1
    package static let headerMagic = Array("TMTMODEL".utf8)
    package static let trailerMagic = Array("TMTINDEX".utf8)
    package static let headerSize = 64
    package static let trailerSize = 64
    package static let alignment = 64
    package static let maxDirectoryLength = 256 << 20
    package static let minChunkSize = 64 << 10
    package static let maxChunkSize = 64 << 20
    /// The most a zstd frame can expand: each block decodes to at most 128 KiB (RFC 8878,
    /// Block_Maximum_Size) and takes at least 4 bytes (3 of header, 1 of content).
    package static let maxZstdExpansion = 32 << 10

    /// Refuses a chunk size a writer may not use (`path`: the file being written, for the error).
    static func checkChunkSize(_ size: Int, path: String) throws(TMTError) {
        guard size >= minChunkSize, size <= maxChunkSize else {
            throw .invalidEntry(path: path, item: "-", detail: "chunk size \(size) outside 64 KiB…64 MiB")
        }
    }
    public static let defaultChunkSize = 4 << 20

    static func header() -> [UInt8] {
        var h = [UInt8](repeating: 0, count: headerSize)
        h.replaceSubrange(0..<8, with: headerMagic)
        withUnsafeBytes(of: version.littleEndian) { h.replaceSubrange(8..<12, with: $0) }
        return h
    }

    struct Trailer {
        var directoryOffset: UInt64
        var directoryLength: UInt64
        var directoryHash: UInt64
        var fileLength: UInt64

        func encode() -> [UInt8] {
            var t = [UInt8](repeating: 0, count: trailerSize)
            t.replaceSubrange(0..<8, with: trailerMagic)
            func put<T: FixedWidthInteger>(_ v: T, _ at: Int) {
                withUnsafeBytes(of: v.littleEndian) { t.replaceSubrange(at..<(at + MemoryLayout<T>.size), with: $0) }
            }
            put(version, 8)
            put(directoryOffset, 16)
            put(directoryLength, 24)
            put(directoryHash, 32)
            put(fileLength, 40)
            let sum = t.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
            put(sum, 56)
            return t
        }
    }
}

/// The directory, as stored in JSON.
package struct TMTDirectory: Codable, Sendable {
    package var format: String = "tmt"
    package var version: UInt32 = TMTLayout.version
    package var metadata: JSONValue
    package var blobs: [TMTItem]
    package var tensors: [TMTItem]
}

extension TMTDirectory {
    /// The directory as a JSON value, as its `Codable` form encodes it (keys, optional fields
    /// left out), for `JSONWriter`: Foundation's `JSONEncoder` took ~3 ms for SmolLM2's 273 items,
    /// a serial step at the end of every file.
    var jsonValue: JSONValue {
        .object(["format": .string(format), "version": .int(Int64(version)), "metadata": metadata,
                 "blobs": .array(blobs.map(\.jsonValue)), "tensors": .array(tensors.map(\.jsonValue))])
    }
}

extension TMTItem {
    var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(name), "codec": .string(codec.rawValue), "offset": .int(Int64(offset)),
            "stored_size": .int(Int64(storedSize)), "size": .int(Int64(size)), "chunk_size": .int(Int64(chunkSize)),
            "chunks": .array(chunks.map { .array([.int(Int64($0.storedLength)), .string($0.checksum.hex16)]) }),
            "xxh64": .string(xxh64),
        ]
        if let dtype { o["dtype"] = .string(dtype.rawValue) }
        if let shape { o["shape"] = .array(shape.map { .int(Int64($0)) }) }
        if let elementSize { o["element_size"] = .int(Int64(elementSize)) }
        if let tail { o["tail"] = .string(tail.rawValue) }
        return .object(o)
    }
}

/// How an item's bytes are stored.
public enum TMTCodec: String, Codable, Sendable, CaseIterable {
    case raw
    case zstd
    case shuffleZstd = "shuffle-zstd"
}

/// One tensor or blob in the directory.
public struct TMTItem: Codable, Sendable {
    public var name: String
    public var dtype: DType?
    public var shape: [Int]?
    public var codec: TMTCodec
    public var elementSize: Int?
    public var offset: Int
    public var storedSize: Int
    public var size: Int
    public var chunkSize: Int
    package var chunks: [TMTChunk]
    public var xxh64: String
    /// Tensors whose rows end in tail blocks (`DType.hasTailBlocks`): the tail format. Such
    /// storage is Tramontane's own, not ggml's (absent in files written before it was recorded).
    public var tail: DType? = nil

    enum CodingKeys: String, CodingKey {
        case name, dtype, shape, codec, offset, chunks, xxh64, tail
        case elementSize = "element_size"
        case storedSize = "stored_size"
        case size
        case chunkSize = "chunk_size"
    }

    /// Absolute offsets of each chunk.
    public var chunkOffsets: [Int] {
        var o = offset
        return chunks.map { c in defer { o += c.storedLength }; return o }
    }

    /// Decoded length of chunk `i`.
    public func decodedLength(ofChunk i: Int) -> Int {
        min(chunkSize, size - i * chunkSize)
    }

    public var compressionRatio: Double { size == 0 ? 1 : Double(storedSize) / Double(size) }
}

/// A chunk's stored length and the XXH64 of its stored bytes; JSON `[length, "hex"]`.
package struct TMTChunk: Codable, Sendable, Equatable {
    package var storedLength: Int
    package var checksum: UInt64

    package init(storedLength: Int, checksum: UInt64) {
        self.storedLength = storedLength
        self.checksum = checksum
    }

    package init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        storedLength = try c.decode(Int.self)
        let hex = try c.decode(String.self)
        guard let v = TMTChunk.checksum(hex: hex) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "checksum is not 16 hex digits")
        }
        checksum = v
    }

    /// A checksum as the directory writes it: exactly 16 hex digits.
    static func checksum(hex: String) -> UInt64? {
        guard hex.utf8.count == 16 else { return nil }
        return UInt64(hex, radix: 16)
    }

    package func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(storedLength)
        try c.encode(checksum.hex16)
    }
}

extension TMTDirectory {
    /// The directory from the strict parser's value (duplicate keys and deep nesting were refused
    /// there), every field checked for its JSON type; unknown keys are ignored (formats/tmt.md).
    init(json: JSONValue) throws(TMTDirectoryError) {
        guard let o = json.objectValue else { throw TMTDirectoryError("the directory is not an object") }
        guard let format = o["format"]?.stringValue else { throw TMTDirectoryError("format: a string is required") }
        guard case .int(let v)? = o["version"], let version = UInt32(exactly: v) else { throw TMTDirectoryError("version: an integer is required") }
        func items(_ key: String) throws(TMTDirectoryError) -> [TMTItem] {
            guard let a = o[key]?.arrayValue else { throw TMTDirectoryError("\(key): an array is required") }
            var out: [TMTItem] = []
            out.reserveCapacity(a.count)
            for (i, v) in a.enumerated() { out.append(try TMTItem(json: v, at: "\(key)[\(i)]")) }
            return out
        }
        self.init(format: format, version: version, metadata: o["metadata"] ?? .object([:]), blobs: try items("blobs"), tensors: try items("tensors"))
    }
}

extension TMTItem {
    init(json: JSONValue, at place: String) throws(TMTDirectoryError) {
        guard let o = json.objectValue else { throw TMTDirectoryError("\(place): an object is required") }
        func int(_ key: String) throws(TMTDirectoryError) -> Int {
            guard case .int(let v)? = o[key], let i = Int(exactly: v) else { throw TMTDirectoryError("\(place).\(key): an integer is required") }
            return i
        }
        func string(_ key: String) throws(TMTDirectoryError) -> String {
            guard let s = o[key]?.stringValue else { throw TMTDirectoryError("\(place).\(key): a string is required") }
            return s
        }
        func optional<T>(_ key: String, _ read: (String) throws(TMTDirectoryError) -> T) throws(TMTDirectoryError) -> T? {
            guard let v = o[key], v != .null else { return nil }
            return try read(key)
        }
        func dtype(_ key: String) throws(TMTDirectoryError) -> DType {
            let s = try string(key)
            guard let d = DType(rawValue: s) else { throw TMTDirectoryError("\(place).\(key): unknown dtype \"\(s)\"") }
            return d
        }
        name = try string("name")
        self.dtype = try optional("dtype", dtype)
        shape = try optional("shape") { (key: String) throws(TMTDirectoryError) -> [Int] in
            guard let a = o[key]?.arrayValue else { throw TMTDirectoryError("\(place).shape: an array is required") }
            var dims: [Int] = []
            for d in a {
                guard case .int(let v) = d, let i = Int(exactly: v) else { throw TMTDirectoryError("\(place).shape: integers are required") }
                dims.append(i)
            }
            return dims
        }
        let c = try string("codec")
        guard let codec = TMTCodec(rawValue: c) else { throw TMTDirectoryError("\(place).codec: unknown codec \"\(c)\"") }
        self.codec = codec
        elementSize = try optional("element_size", int)
        offset = try int("offset")
        storedSize = try int("stored_size")
        size = try int("size")
        chunkSize = try int("chunk_size")
        guard let list = o["chunks"]?.arrayValue else { throw TMTDirectoryError("\(place).chunks: an array is required") }
        var chunks: [TMTChunk] = []
        chunks.reserveCapacity(list.count)
        for (i, entry) in list.enumerated() {
            guard let pair = entry.arrayValue, pair.count == 2, case .int(let n) = pair[0], let length = Int(exactly: n),
                  let hex = pair[1].stringValue, let sum = TMTChunk.checksum(hex: hex) else {
                throw TMTDirectoryError("\(place).chunks[\(i)]: [length, \"16 hex digits\"] is required")
            }
            chunks.append(TMTChunk(storedLength: length, checksum: sum))
        }
        self.chunks = chunks
        xxh64 = try string("xxh64")
        tail = try optional("tail", dtype)
    }
}

/// Why a directory's JSON does not describe a directory (the file's path is added by the reader).
struct TMTDirectoryError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
