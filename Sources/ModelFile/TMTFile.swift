import Foundation
import TensorCore

/// A `.tmt` opened for reading: header, trailer and directory are validated on open; tensor
/// bytes are read only when asked for. Raw tensors are views into the mapping.
public final class TMTFile: @unchecked Sendable {
    public let path: String
    package let file: MappedFile
    package let directory: TMTDirectory
    public var tensors: [TMTItem] { directory.tensors }
    public var blobs: [TMTItem] { directory.blobs }
    public var metadata: JSONValue { directory.metadata }
    /// Where the directory starts: the end of the data section.
    package let directoryOffset: Int
    /// Decoded compressed items, recycled through a stream of them (a tensor quantized and let
    /// go); close fit, since a loaded model may keep an item for good.
    let decoded = BufferPool(keep: 1, reuse: .closeFit)
    /// Shuffle planes and `verify`'s chunk buffers, all one chunk size.
    let scratch = BufferPool(keep: 2, reuse: .closeFit)

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        (directory, directoryOffset) = try TMTFile.readDirectory(file.bytes, path: path)
    }

    /// True when the first bytes are the `.tmt` magic.
    public static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 8 && Array(bytes[0..<8]) == TMTLayout.headerMagic
    }

    static func readDirectory(_ b: UnsafeRawBufferPointer, path: String) throws -> (TMTDirectory, directoryOffset: Int) {
        guard b.count >= 8, Array(b[0..<8]) == TMTLayout.headerMagic else { throw TMTError.notATMTFile(path: path) }
        guard let version = b.le(UInt32.self, at: 8) else { throw TMTError.truncated(path: path, detail: "header is \(b.count) bytes") }
        if version > TMTLayout.version { throw TMTError.newerVersion(path: path, version: version) }
        guard version == TMTLayout.version else { throw TMTError.notATMTFile(path: path) }
        let minimum = TMTLayout.headerSize + TMTLayout.trailerSize
        guard b.count >= minimum else { throw TMTError.truncated(path: path, detail: "\(b.count) bytes, not even a header and a trailer") }
        if let flags = b.le(UInt32.self, at: 12), flags != 0 {
            throw TMTError.corruptHeader(path: path, offset: 12, detail: "flags are 0x\(String(flags, radix: 16)), expected 0")
        }
        if let nonZero = (16..<TMTLayout.headerSize).first(where: { b[$0] != 0 }) {
            throw TMTError.corruptHeader(path: path, offset: nonZero, detail: "reserved byte is 0x\(String(b[nonZero], radix: 16)), expected 0")
        }
        let t = b.count - TMTLayout.trailerSize
        guard Array(b[t..<(t + 8)]) == TMTLayout.trailerMagic else {
            throw TMTError.truncated(path: path, detail: "no trailer at the end of its \(b.count) bytes")
        }
        var r = ByteReader(b, offset: t + 8)
        let tVersion = try r.readU32()
        _ = try r.readU32()
        let dirOffset = try r.readU64()
        let dirLength = try r.readU64()
        let dirHash = try r.readU64()
        let fileLength = try r.readU64()
        _ = try r.readU64()
        let trailerHash = try r.readU64()
        guard XXH64.hash(UnsafeRawBufferPointer(rebasing: b[t..<(t + 56)])) == trailerHash else {
            throw TMTError.corruptTrailer(path: path, detail: "trailer checksum mismatch")
        }
        guard tVersion == version else { throw TMTError.corruptTrailer(path: path, detail: "trailer version \(tVersion) ≠ header version \(version)") }
        if fileLength > UInt64(b.count) {
            throw TMTError.truncated(path: path, detail: "\(b.count) bytes of \(fileLength)")
        }
        if fileLength < UInt64(b.count) { throw TMTError.trailingBytes(path: path, expected: fileLength, actual: b.count) }
        guard dirLength <= UInt64(TMTLayout.maxDirectoryLength),
              dirOffset >= UInt64(TMTLayout.headerSize), dirOffset <= UInt64(t),
              dirLength <= UInt64(t) - dirOffset
        else { throw TMTError.corruptTrailer(path: path, detail: "directory range \(dirOffset)+\(dirLength) is outside the file") }
        let dir = UnsafeRawBufferPointer(rebasing: b[Int(dirOffset)..<Int(dirOffset + dirLength)])
        guard XXH64.hash(dir) == dirHash else { throw TMTError.corruptDirectory(path: path, detail: "directory checksum mismatch") }
        let directory: TMTDirectory
        do {
            directory = try TMTDirectory(json: try JSONParser.parse(dir))
        } catch {
            throw TMTError.corruptDirectory(path: path, detail: "\(error)")
        }
        try validate(directory, dataEnd: Int(dirOffset), path: path)
        return (directory, Int(dirOffset))
    }

    static func validate(_ d: TMTDirectory, dataEnd: Int, path: String) throws {
        var seen = Set<String>(), seenBlobs = Set<String>()
        var ranges: [(Int, Int, String)] = []
        for (item, isTensor) in d.tensors.map({ ($0, true) }) + d.blobs.map({ ($0, false) }) {
            func bad(_ s: String) -> TMTError { .invalidEntry(path: path, item: item.name, detail: s) }
            if isTensor {
                guard seen.insert(item.name).inserted else { throw bad("duplicate tensor name") }
                guard let dtype = item.dtype, let shape = item.shape else { throw bad("tensor without dtype or shape") }
                let bytes: Int
                do { bytes = try dtype.byteCount(shape: shape) } catch { throw bad("\(error)") }
                guard bytes == item.size else { throw bad("size \(item.size) but \(dtype.rawValue)\(shape) needs \(bytes)") }
                if let tail = item.tail {
                    guard let columns = shape.last, dtype.hasTailBlocks(columns: columns), tail == dtype.tailType else {
                        throw bad("tail \(tail.rawValue) does not match \(dtype.rawValue)\(shape)")
                    }
                }
            } else {
                guard seenBlobs.insert(item.name).inserted else { throw bad("duplicate blob name") }
            }
            guard item.size >= 0, item.storedSize >= 0 else { throw bad("negative size") }
            guard item.offset >= TMTLayout.headerSize, item.offset % TMTLayout.alignment == 0 else { throw bad("offset \(item.offset) not 64-byte aligned after the header") }
            guard item.storedSize <= dataEnd - item.offset else { throw bad("stored bytes \(item.offset)+\(item.storedSize) run past the data section (ends at \(dataEnd))") }
            guard item.chunkSize >= 1, item.chunkSize <= TMTLayout.maxChunkSize else { throw bad("chunk size \(item.chunkSize) out of range") }
            // Not (size + chunk_size - 1) / chunk_size: a size near Int.max would overflow.
            let expectedChunks = item.size / item.chunkSize + (item.size % item.chunkSize == 0 ? 0 : 1)
            guard item.chunks.count == expectedChunks else { throw bad("\(item.chunks.count) chunks, expected \(expectedChunks)") }
            var sum = 0
            for c in item.chunks {
                guard c.storedLength >= 0, c.storedLength <= item.storedSize - sum else { throw bad("chunk lengths exceed stored size") }
                sum += c.storedLength
            }
            guard sum == item.storedSize else { throw bad("chunk lengths add to \(sum), stored size is \(item.storedSize)") }
            switch item.codec {
            case .raw:
                guard item.storedSize == item.size else { throw bad("raw item with stored size ≠ size") }
                for (i, c) in item.chunks.enumerated() where c.storedLength != item.decodedLength(ofChunk: i) { throw bad("raw chunk \(i) has the wrong length") }
            case .shuffleZstd:
                guard let k = item.elementSize, k == 2 || k == 4, item.chunkSize % k == 0, item.size % k == 0 else { throw bad("shuffle-zstd needs element_size 2 or 4 dividing the chunk size") }
            case .zstd: break
            }
            if item.codec != .raw {
                // A zstd block decodes to at most 128 KiB and takes at least 4 bytes.
                for (i, c) in item.chunks.enumerated() where item.decodedLength(ofChunk: i) / TMTLayout.maxZstdExpansion > c.storedLength {
                    throw bad("chunk \(i) of \(c.storedLength) stored bytes cannot decode to \(item.decodedLength(ofChunk: i)) (zstd expands at most \(TMTLayout.maxZstdExpansion)×)")
                }
            }
            guard item.xxh64.count == 16, UInt64(item.xxh64, radix: 16) != nil else { throw bad("xxh64 is not 16 hex digits") }
            ranges.append((item.offset, item.storedSize, item.name))
        }
        ranges.sort { $0.0 < $1.0 }
        for i in ranges.indices.dropFirst() where ranges[i - 1].0 + ranges[i - 1].1 > ranges[i].0 {
            throw TMTError.invalidEntry(path: path, item: ranges[i].2, detail: "overlaps \(ranges[i - 1].2)")
        }
    }

    public func tensor(named name: String) -> TMTItem? { tensors.first { $0.name == name } }
    public func blob(named name: String) -> TMTItem? { blobs.first { $0.name == name } }

    /// The decoded bytes of an item. Raw items are views into the mapping (their checksums are
    /// checked by `verify`); compressed items are decoded on `threads` cores, every chunk
    /// checked against its checksum, and the whole against the item's checksum.
    public func data(of item: TMTItem, threads: Int = availableCores) throws -> ByteRegion {
        if item.codec == .raw {
            return file.region(offset: item.offset, count: item.size)
        }
        let region = try decoded.region(count: item.size) { try decode(item, into: $0, threads: threads) }
        // The stored chunks are not read again: without this, quantizing a 13 GB shuffle-zstd
        // file kept ~10 GB of its mapped pages resident.
        file.dropPages(offset: item.offset, count: item.storedSize)
        return region
    }

    /// Decodes a compressed item into `out` (exactly `item.size` bytes), checking every chunk's
    /// checksum before decoding it and the whole item's checksum after.
    public func decode(_ item: TMTItem, into out: UnsafeMutableRawBufferPointer, threads: Int = availableCores) throws {
        precondition(out.count == item.size, "decode buffer has the wrong size")
        let offsets = item.chunkOffsets
        let decoder = try ChunkDecoder(threads: max(1, min(threads, item.chunks.count)), planeSize: item.codec == .shuffleZstd ? item.chunkSize : 0,
                                       pool: scratch)
        let shared = SharedBuffer(out)   // chunk i writes only its own range
        try parallelFor(item.chunks.count, threads: decoder.workers) { i, worker in
            let dst = UnsafeMutableRawBufferPointer(rebasing: shared.base[(i * item.chunkSize)..<(i * item.chunkSize + item.decodedLength(ofChunk: i))])
            try decodeChunk(i, of: item, at: offsets[i], into: dst, decoder: decoder, worker: worker)
        }
        guard XXH64.hash(UnsafeRawBufferPointer(out)).hex16 == item.xxh64 else { throw TMTError.decodedChecksumMismatch(path: path, item: item.name) }
    }

    /// Per-worker zstd contexts and shuffle planes, reused across the chunks of a call. Sendable:
    /// fixed at init, and worker `w` of a parallel loop uses only context and plane `w`.
    final class ChunkDecoder: Sendable {
        let contexts: ZstdContexts
        let planes: [PooledBuffer]
        var workers: Int { contexts.decompression.count }

        /// `planeSize`: the largest shuffle-zstd chunk to decode (0: none); planes come from `pool`.
        init(threads: Int, planeSize: Int, pool: BufferPool) throws {
            contexts = ZstdContexts(threads: threads, compress: false)
            planes = planeSize > 0 ? try contexts.decompression.map { _ in try pool.buffer(count: planeSize) } : []
        }
    }

    /// Checks chunk `i`'s stored bytes against its checksum, then decodes it into `dst` (its
    /// decoded length).
    private func decodeChunk(_ i: Int, of item: TMTItem, at offset: Int, into dst: UnsafeMutableRawBufferPointer,
                             decoder: ChunkDecoder, worker: Int) throws {
        let stored = file.region(offset: offset, count: item.chunks[i].storedLength).bytes
        guard XXH64.hash(stored) == item.chunks[i].checksum else {
            throw TMTError.checksumMismatch(path: path, item: item.name, chunk: i, offset: offset)
        }
        let context = decoder.contexts.decompression[worker]
        let failure: String?
        switch item.codec {
        case .shuffleZstd:
            let k = item.elementSize ?? 1
            let plane = UnsafeMutableRawBufferPointer(rebasing: decoder.planes[worker].mutableBytes[0..<dst.count])
            failure = ChunkCodec.decompress(stored, into: plane, context: context)
            if failure == nil { ChunkCodec.unshuffle(UnsafeRawBufferPointer(plane), elementSize: k, into: dst) }
        case .zstd:
            failure = ChunkCodec.decompress(stored, into: dst, context: context)
        case .raw:
            dst.copyMemory(from: stored)
            failure = nil
        }
        if let failure { throw TMTError.codec(item: item.name, chunk: i, detail: failure) }
    }

    /// The bytes between the header and the directory that no item covers: the zero padding
    /// before each 64-byte aligned item.
    public var padding: [Range<Int>] {
        var gaps: [Range<Int>] = []
        var end = TMTLayout.headerSize
        for item in (tensors + blobs).sorted(by: { $0.offset < $1.offset }) {
            if item.offset > end { gaps.append(end..<item.offset) }
            end = max(end, item.offset + item.storedSize)
        }
        if directoryOffset > end { gaps.append(end..<directoryOffset) }
        return gaps
    }

    /// Checks every chunk of every item against its checksum and every decoded item against
    /// its own, and that the padding after each item is zero: with the header, trailer and
    /// directory checked on open, every byte of the file is covered. Compressed items are
    /// decoded a few chunks at a time (memory follows the chunk size, not the item's declared
    /// size). Throws the first damage found. `progress` gets (items done, items total, name).
    public func verify(threads: Int = availableCores, progress: (Int, Int, String) -> Void = { _, _, _ in }) throws {
        let items = tensors + blobs
        let compressed = items.filter { $0.codec != .raw }
        let threads = max(1, threads)
        // Chunks decoded at once, each into its own buffer, then hashed in order.
        let batch = threads * 2
        let chunkSize = compressed.map(\.chunkSize).max() ?? 0
        let decoder = try ChunkDecoder(threads: threads, planeSize: compressed.contains { $0.codec == .shuffleZstd } ? chunkSize : 0,
                                       pool: scratch)
        let buffers = compressed.isEmpty ? [] : try (0..<batch).map { _ in try scratch.buffer(count: chunkSize) }
        // Padding is checked with the item it follows, while that item's last page is still
        // mapped in: touching it after the pages were dropped faults in far more than a page.
        var gapsAfter: [Int: Range<Int>] = [:]
        for gap in padding { gapsAfter[gap.lowerBound] = gap }
        func checkPadding(after end: Int) throws {
            guard let gap = gapsAfter.removeValue(forKey: end) else { return }
            let bytes = file.region(offset: gap.lowerBound, count: gap.count).bytes
            if let i = bytes.firstIndex(where: { $0 != 0 }) { throw TMTError.nonZeroPadding(path: path, offset: gap.lowerBound + i) }
        }
        try checkPadding(after: TMTLayout.headerSize)
        for (n, item) in items.enumerated() {
            progress(n, items.count, item.name)
            defer { file.dropPages(offset: item.offset, count: item.storedSize) }
            let offsets = item.chunkOffsets
            if item.codec == .raw {
                try parallelFor(item.chunks.count, threads: threads) { i, _ in
                    let stored = file.region(offset: offsets[i], count: item.chunks[i].storedLength).bytes
                    guard XXH64.hash(stored) == item.chunks[i].checksum else {
                        throw TMTError.checksumMismatch(path: path, item: item.name, chunk: i, offset: offsets[i])
                    }
                }
                if XXH64.hash(file.region(offset: item.offset, count: item.size).bytes).hex16 != item.xxh64 {
                    throw TMTError.decodedChecksumMismatch(path: path, item: item.name)
                }
            } else {
                var hash = XXH64()
                for start in stride(from: 0, to: item.chunks.count, by: batch) {
                    let count = min(batch, item.chunks.count - start)
                    try parallelFor(count, threads: decoder.workers) { j, worker in
                        let i = start + j
                        let dst = UnsafeMutableRawBufferPointer(rebasing: buffers[j].mutableBytes[0..<item.decodedLength(ofChunk: i)])
                        try decodeChunk(i, of: item, at: offsets[i], into: dst, decoder: decoder, worker: worker)
                    }
                    for j in 0..<count { hash.update(UnsafeRawBufferPointer(rebasing: buffers[j].mutableBytes[0..<item.decodedLength(ofChunk: start + j)])) }
                }
                if hash.finalize().hex16 != item.xxh64 { throw TMTError.decodedChecksumMismatch(path: path, item: item.name) }
            }
            try checkPadding(after: item.offset + item.storedSize)
        }
        // Every gap starts at the header's end or at an item's end, so none is left; kept for safety.
        for end in gapsAfter.keys.sorted() { try checkPadding(after: end) }
        progress(items.count, items.count, "")
    }
}
