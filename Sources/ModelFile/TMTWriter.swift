import Foundation
import TensorCore

/// Options for writing a `.tmt`.
public struct TMTWriterOptions: Sendable {
    public var codec: TMTCodec = .shuffleZstd
    public var level: Int32 = 1
    public var chunkSize: Int = TMTLayout.defaultChunkSize
    public var threads: Int = availableCores

    public init(codec: TMTCodec = .shuffleZstd, level: Int32 = 1, chunkSize: Int = TMTLayout.defaultChunkSize, threads: Int = availableCores) {
        self.codec = codec
        self.level = level
        self.chunkSize = chunkSize
        self.threads = threads
    }
}

/// Streams items into a `.tmt`: each `add` encodes and writes one tensor or blob (holding at most
/// `threads × 2` encoded chunks at once); `finish` appends the directory and the trailer, then
/// renames the temporary file over the destination.
public final class TMTWriter {
    public let options: TMTWriterOptions
    private let file: AtomicOutputFile
    private var tensors: [TMTItem] = []
    private var blobs: [TMTItem] = []
    private var names = Set<String>()
    private var blobNames = Set<String>()
    private let contexts: ZstdContexts
    /// Chunk-sized buffers of the items being encoded: a pending chunk and a shuffle plane per thread.
    private let buffers: BufferPool
    /// The tensor being written piece by piece, if any.
    private var current: ItemStream?

    /// Writes to `target`, checked first (see `OutputTarget`: never an input, a FIFO or a device).
    package init(target: OutputTarget, options: TMTWriterOptions = .init(),
                write: @escaping (Int32, UnsafeRawPointer, Int) -> Int = Syscalls.systemWrite) throws {
        try TMTLayout.checkChunkSize(options.chunkSize, path: target.path)
        self.options = options
        file = try AtomicOutputFile(target: target, write: write)
        contexts = ZstdContexts(threads: max(1, options.threads), compress: true)
        buffers = BufferPool(keep: max(1, options.threads) + 1)
        try TMTLayout.header().withUnsafeBytes { try file.write($0) }
    }

    /// Writes to `path`, which has no inputs to protect; an existing regular file there is
    /// replaced only if `replacing`.
    public convenience init(path: String, replacing: Bool = false, options: TMTWriterOptions = .init(),
                            write: @escaping (Int32, UnsafeRawPointer, Int) -> Int = Syscalls.systemWrite) throws {
        try self.init(target: OutputTarget(path, replacing: replacing), options: options, write: write)
    }

    public var path: String { file.destination }
    public var bytesWritten: Int { file.bytesWritten }

    /// Adds a tensor. `bytes` must be exactly `dtype.byteCount(shape)` long.
    public func addTensor(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, codec: TMTCodec? = nil) throws {
        let expected = try dtype.byteCount(shape: shape)
        guard bytes.count == expected else {
            throw TMTError.invalidEntry(path: path, item: name, detail: "\(bytes.count) bytes given, \(dtype.rawValue)\(shape) needs \(expected)")
        }
        try beginTensor(name: name, dtype: dtype, shape: shape, codec: codec)
        try appendTensorBytes(bytes)
        try endTensor()
    }

    /// Starts a tensor whose bytes come in pieces, in order (`appendTensorBytes`), until
    /// `endTensor`: a quantizer can then write a large tensor from a small recycled buffer. The
    /// file is the same as with `addTensor` (chunks are cut at the same places).
    public func beginTensor(name: String, dtype: DType, shape: [Int], codec: TMTCodec? = nil) throws {
        guard current == nil else { throw TMTError.invalidEntry(path: path, item: name, detail: "tensor \(current?.name ?? "") is still open") }
        let expected = try dtype.byteCount(shape: shape)
        guard names.insert(name).inserted else { throw TMTError.invalidEntry(path: path, item: name, detail: "duplicate tensor name") }
        current = try startItem(name: name, size: expected, codec: codec ?? options.codec,
                                elementSize: dtype.isFloat && dtype != .f64 ? dtype.blockBytes : 1)
        current?.dtype = dtype
        current?.shape = shape
    }

    /// The next bytes of the open tensor.
    public func appendTensorBytes(_ bytes: UnsafeRawBufferPointer) throws {
        guard let stream = current else { throw TMTError.invalidEntry(path: path, item: "-", detail: "no tensor is open") }
        guard stream.received + bytes.count <= stream.size else {
            let shape = stream.shape ?? []
            throw TMTError.invalidEntry(path: path, item: stream.name,
                                        detail: "\(stream.received + bytes.count) bytes given, \(stream.dtype?.rawValue ?? "")\(shape) needs \(stream.size)")
        }
        try stream.append(bytes)
    }

    /// Ends the open tensor; throws if it did not get exactly its byte count.
    public func endTensor() throws {
        guard let stream = current else { throw TMTError.invalidEntry(path: path, item: "-", detail: "no tensor is open") }
        current = nil
        guard stream.received == stream.size else {
            throw TMTError.invalidEntry(path: path, item: stream.name,
                                        detail: "\(stream.received) bytes given, \(stream.dtype?.rawValue ?? "")\(stream.shape ?? []) needs \(stream.size)")
        }
        tensors.append(try stream.finish())
    }

    /// Adds a named blob (tokenizer file, …), compressed with zstd unless `codec` says otherwise.
    public func addBlob(name: String, bytes: UnsafeRawBufferPointer, codec: TMTCodec = .zstd) throws {
        try addBlob(name: name, encoded: try EncodedBlob(bytes, codec: codec, level: options.level, chunkSize: options.chunkSize))
    }

    /// Adds a named blob whose chunks were encoded beforehand (see `EncodedBlob`).
    package func addBlob(name: String, encoded: EncodedBlob) throws {
        guard current == nil else { throw TMTError.invalidEntry(path: path, item: name, detail: "a tensor is still open") }
        guard blobNames.insert(name).inserted else { throw TMTError.invalidEntry(path: path, item: name, detail: "duplicate blob name") }
        let offset = try alignedItemStart()
        var chunks: [TMTChunk] = []
        for c in encoded.chunks {
            try c.withUnsafeBytes { b in
                chunks.append(TMTChunk(storedLength: b.count, checksum: XXH64.hash(b)))
                try file.write(b)
            }
        }
        blobs.append(TMTItem(name: name, dtype: nil, shape: nil, codec: encoded.codec, elementSize: nil, offset: offset,
                             storedSize: file.bytesWritten - offset, size: encoded.size, chunkSize: encoded.chunkSize,
                             chunks: chunks, xxh64: encoded.xxh64.hex16))
    }

    /// Pads the file to the item alignment; returns where the next item starts.
    private func alignedItemStart() throws -> Int {
        try file.writeZeros((TMTLayout.alignment - file.bytesWritten % TMTLayout.alignment) % TMTLayout.alignment)
        return file.bytesWritten
    }

    private func startItem(name: String, size: Int, codec requested: TMTCodec, elementSize: Int) throws -> ItemStream {
        let codec = ChunkEncoder(requested, elementSize: elementSize, level: options.level).codec
        let offset = try alignedItemStart()
        let chunkSize = options.chunkSize - options.chunkSize % max(elementSize, 1)
        return ItemStream(name: name, size: size, codec: codec, elementSize: elementSize, offset: offset, chunkSize: chunkSize,
                          file: file, contexts: contexts, level: options.level, buffers: buffers)
    }

    /// Writes directory and trailer, flushes and renames into place.
    public func finish(metadata: JSONValue) throws {
        let directory = TMTDirectory(metadata: metadata, blobs: blobs, tensors: tensors)
        let json = JSONWriter.bytes(directory.jsonValue)
        guard json.count <= TMTLayout.maxDirectoryLength else {
            throw TMTError.invalidEntry(path: path, item: "directory", detail: "directory of \(json.count) bytes exceeds the 256 MiB limit")
        }
        let directoryOffset = file.bytesWritten
        let hash = json.withUnsafeBytes { XXH64.hash($0) }
        try json.withUnsafeBytes { try file.write($0) }
        let trailer = TMTLayout.Trailer(
            directoryOffset: UInt64(directoryOffset), directoryLength: UInt64(json.count),
            directoryHash: hash, fileLength: UInt64(file.bytesWritten + TMTLayout.trailerSize))
        try trailer.encode().withUnsafeBytes { try file.write($0) }
        try file.commit()
    }

    /// Gives up: removes the temporary file. Also happens if the writer is dropped unfinished.
    public func abandon() { file.abandon() }
}
