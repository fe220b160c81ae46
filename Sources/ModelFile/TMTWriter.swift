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

    public init(path: String, options: TMTWriterOptions = .init(),
                write: @escaping (Int32, UnsafeRawPointer, Int) -> Int = Syscalls.systemWrite) throws {
        guard options.chunkSize >= TMTLayout.minChunkSize, options.chunkSize <= TMTLayout.maxChunkSize else {
            throw TMTError.invalidEntry(path: path, item: "-", detail: "chunk size \(options.chunkSize) outside 64 KiB…64 MiB")
        }
        self.options = options
        file = try AtomicOutputFile(destination: path, write: write)
        contexts = ZstdContexts(threads: max(1, options.threads), compress: true)
        try TMTLayout.header().withUnsafeBytes { try file.write($0) }
    }

    public var path: String { file.destination }
    public var bytesWritten: Int { file.bytesWritten }

    /// Adds a tensor. `bytes` must be exactly `dtype.byteCount(shape)` long.
    public func addTensor(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, codec: TMTCodec? = nil) throws {
        let expected = try dtype.byteCount(shape: shape)
        guard bytes.count == expected else {
            throw TMTError.invalidEntry(path: path, item: name, detail: "\(bytes.count) bytes given, \(dtype.rawValue)\(shape) needs \(expected)")
        }
        guard names.insert(name).inserted else { throw TMTError.invalidEntry(path: path, item: name, detail: "duplicate tensor name") }
        var item = try writeItem(name: name, bytes: bytes, codec: codec ?? options.codec, elementSize: dtype.isFloat && dtype != .f64 ? dtype.blockBytes : 1)
        item.dtype = dtype
        item.shape = shape
        tensors.append(item)
    }

    /// Adds a named blob (tokenizer file, …), compressed with zstd unless `codec` says otherwise.
    public func addBlob(name: String, bytes: UnsafeRawBufferPointer, codec: TMTCodec = .zstd) throws {
        guard blobNames.insert(name).inserted else { throw TMTError.invalidEntry(path: path, item: name, detail: "duplicate blob name") }
        blobs.append(try writeItem(name: name, bytes: bytes, codec: codec == .shuffleZstd ? .zstd : codec, elementSize: 1))
    }

    private func writeItem(name: String, bytes: UnsafeRawBufferPointer, codec requested: TMTCodec, elementSize: Int) throws -> TMTItem {
        // Shuffle only makes sense for 2- and 4-byte floats.
        let codec: TMTCodec = (requested == .shuffleZstd && elementSize == 1) ? .zstd : requested
        let pad = (TMTLayout.alignment - file.bytesWritten % TMTLayout.alignment) % TMTLayout.alignment
        try file.writeZeros(pad)
        let offset = file.bytesWritten
        let chunkSize = options.chunkSize - options.chunkSize % max(elementSize, 1)
        let chunkCount = bytes.count == 0 ? 0 : (bytes.count + chunkSize - 1) / chunkSize
        var chunks: [TMTChunk] = []
        chunks.reserveCapacity(chunkCount)
        let decodedHash = XXH64.hash(bytes)

        if codec == .raw {
            for i in 0..<chunkCount {
                let c = UnsafeRawBufferPointer(rebasing: bytes[(i * chunkSize)..<min(bytes.count, (i + 1) * chunkSize)])
                chunks.append(TMTChunk(storedLength: c.count, checksum: XXH64.hash(c)))
            }
            try file.write(bytes)
        } else {
            let threads = contexts.compression.count
            let batch = max(1, threads * 2)
            let planes = codec == .shuffleZstd ? (0..<threads).map { _ in OwnedBytes(count: chunkSize) } : []
            var start = 0
            while start < chunkCount {
                let end = min(chunkCount, start + batch)
                var encoded = [[UInt8]](repeating: [], count: end - start)
                try encoded.withUnsafeMutableBufferPointer { out in
                    try parallelFor(end - start, threads: threads) { j, worker in
                        let i = start + j
                        let c = UnsafeRawBufferPointer(rebasing: bytes[(i * chunkSize)..<min(bytes.count, (i + 1) * chunkSize)])
                        if codec == .shuffleZstd {
                            let plane = UnsafeMutableRawBufferPointer(rebasing: planes[worker].mutableBytes[0..<c.count])
                            ChunkCodec.shuffle(c, elementSize: elementSize, into: plane)
                            out[j] = try ChunkCodec.compress(UnsafeRawBufferPointer(plane), level: options.level, context: contexts.compression[worker])
                        } else {
                            out[j] = try ChunkCodec.compress(c, level: options.level, context: contexts.compression[worker])
                        }
                    }
                }
                for e in encoded {
                    try e.withUnsafeBytes { b in
                        chunks.append(TMTChunk(storedLength: b.count, checksum: XXH64.hash(b)))
                        try file.write(b)
                    }
                }
                start = end
            }
        }
        return TMTItem(
            name: name, dtype: nil, shape: nil, codec: codec,
            elementSize: codec == .shuffleZstd ? elementSize : nil,
            offset: offset, storedSize: file.bytesWritten - offset, size: bytes.count,
            chunkSize: chunkSize, chunks: chunks, xxh64: decodedHash.hex16)
    }

    /// Writes directory and trailer, flushes and renames into place.
    public func finish(metadata: JSONValue) throws {
        let directory = TMTDirectory(metadata: metadata, blobs: blobs, tensors: tensors)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(directory)
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
