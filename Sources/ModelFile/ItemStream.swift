import Foundation
import TensorCore

/// One item of a `.tmt` being written, its bytes arriving in pieces. Chunks are cut at the same
/// places whatever the pieces (every `chunkSize` bytes from the item's start), so the file is
/// the same as when the item comes whole. Raw chunks are written as they come, their checksums
/// computed on the way; compressed chunks are encoded `threads × 2` at a time, straight from
/// the piece, a partial chunk waiting in a buffer for the next piece.
final class ItemStream {
    let name: String
    /// The byte count the item must reach.
    let size: Int
    let codec: TMTCodec
    let elementSize: Int
    let offset: Int
    let chunkSize: Int
    var dtype: DType?
    var shape: [Int]?
    private(set) var received = 0

    private let file: AtomicOutputFile
    private let contexts: ZstdContexts
    private let level: Int32
    private var chunks: [TMTChunk] = []
    private var decoded = XXH64()
    // Raw: the checksum of the chunk being filled.
    private var chunkHash = XXH64()
    private var chunkFill = 0
    // Compressed: a partial chunk waiting for more bytes, and the shuffle planes.
    private var pending: PooledBuffer?
    private var pendingCount = 0
    private var planes: [PooledBuffer] = []
    /// The writer's buffers, recycled from item to item.
    private let buffers: BufferPool

    init(name: String, size: Int, codec: TMTCodec, elementSize: Int, offset: Int, chunkSize: Int,
         file: AtomicOutputFile, contexts: ZstdContexts, level: Int32, buffers: BufferPool) {
        self.name = name
        self.size = size
        self.codec = codec
        self.elementSize = elementSize
        self.offset = offset
        self.chunkSize = chunkSize
        self.file = file
        self.contexts = contexts
        self.level = level
        self.buffers = buffers
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        received += bytes.count
        decoded.update(bytes)
        if codec == .raw { try appendRaw(bytes) } else { try appendCompressed(bytes) }
    }

    /// The item's directory entry, once every byte has come.
    func finish() throws -> TMTItem {
        if codec == .raw {
            if chunkFill > 0 { chunks.append(TMTChunk(storedLength: chunkFill, checksum: chunkHash.finalize())) }
        } else if pendingCount > 0, let pending {
            try encode([UnsafeRawBufferPointer(rebasing: pending.mutableBytes[0..<pendingCount])])
            pendingCount = 0
        }
        return TMTItem(
            name: name, dtype: dtype, shape: shape, codec: codec,
            elementSize: codec == .shuffleZstd ? elementSize : nil,
            offset: offset, storedSize: file.bytesWritten - offset, size: received,
            chunkSize: chunkSize, chunks: chunks, xxh64: decoded.finalize().hex16,
            tail: dtype.flatMap { d in shape?.last.flatMap { d.hasTailBlocks(columns: $0) ? d.tailType : nil } })
    }

    private func appendRaw(_ bytes: UnsafeRawBufferPointer) throws {
        var p = 0
        while p < bytes.count {
            let take = min(chunkSize - chunkFill, bytes.count - p)
            chunkHash.update(UnsafeRawBufferPointer(rebasing: bytes[p..<(p + take)]))
            chunkFill += take
            p += take
            if chunkFill == chunkSize {
                chunks.append(TMTChunk(storedLength: chunkSize, checksum: chunkHash.finalize()))
                chunkHash = XXH64()
                chunkFill = 0
            }
        }
        try file.write(bytes)
    }

    private func appendCompressed(_ bytes: UnsafeRawBufferPointer) throws {
        var whole: [UnsafeRawBufferPointer] = []
        var p = 0
        guard let source = bytes.baseAddress else { return }
        if pendingCount > 0, let pending, let dst = pending.mutableBytes.baseAddress {
            let take = min(chunkSize - pendingCount, bytes.count)
            (dst + pendingCount).copyMemory(from: source, byteCount: take)
            pendingCount += take
            p = take
            guard pendingCount == chunkSize else { return }
            whole.append(UnsafeRawBufferPointer(pending.mutableBytes))
        }
        while bytes.count - p >= chunkSize {
            whole.append(UnsafeRawBufferPointer(rebasing: bytes[p..<(p + chunkSize)]))
            p += chunkSize
        }
        try encode(whole)
        pendingCount = 0
        if p < bytes.count {
            let rest = bytes.count - p
            let buffer = try pending ?? buffers.buffer(count: chunkSize)
            pending = buffer
            buffer.mutableBytes.baseAddress?.copyMemory(from: source + p, byteCount: rest)
            pendingCount = rest
        }
    }

    /// Compresses whole chunks (the last may be short) on the writer's threads, `threads × 2`
    /// at a time, and writes them in order.
    private func encode(_ sources: [UnsafeRawBufferPointer]) throws {
        guard !sources.isEmpty else { return }
        let threads = contexts.compression.count
        let encoder = ChunkEncoder(codec, elementSize: elementSize, level: level)
        if codec == .shuffleZstd && planes.isEmpty { planes = try (0..<threads).map { _ in try buffers.buffer(count: chunkSize) } }
        let batch = max(1, threads * 2)
        var start = 0
        while start < sources.count {
            let end = min(sources.count, start + batch)
            var encoded = [[UInt8]](repeating: [], count: end - start)
            let ctx = contexts, shuffles = planes, inputs = SharedBuffer(sources)
            try encoded.withUnsafeMutableBufferPointer { buffer in
                let out = SharedBuffer(buffer)   // body j writes only out[j]
                try parallelFor(end - start, threads: threads) { [start] j, worker in
                    out.base[j] = try encoder.encode(inputs.base[start + j], context: ctx.compression[worker],
                                                     plane: shuffles.isEmpty ? nil : shuffles[worker].mutableBytes)
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
}
