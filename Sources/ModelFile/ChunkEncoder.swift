import TensorCore

/// How an item's chunks are made — as they are, one zstd frame each, or split into byte planes
/// and then one zstd frame — in one place for the writer's streamed items (`ItemStream`) and the
/// blobs encoded ahead of time (`EncodedBlob`).
struct ChunkEncoder {
    let codec: TMTCodec
    let elementSize: Int
    let level: Int32

    /// `requested` for elements of `elementSize` bytes: shuffling needs 2- or 4-byte elements,
    /// so for bytes (block formats, integers, blobs) `.shuffleZstd` is stored as `.zstd`.
    init(_ requested: TMTCodec, elementSize: Int, level: Int32) {
        codec = requested == .shuffleZstd && elementSize <= 1 ? .zstd : requested
        self.elementSize = elementSize
        self.level = level
    }

    /// The stored bytes of one chunk; `plane` (at least the chunk's size) is the shuffle's
    /// scratch and `context` a zstd compression context, both needed only by their codecs.
    func encode(_ chunk: UnsafeRawBufferPointer, context: OpaquePointer?, plane: UnsafeMutableRawBufferPointer?) throws -> [UInt8] {
        switch codec {
        case .raw:
            return Array(chunk)
        case .zstd:
            guard let context else { throw TMTError.codec(item: "", chunk: 0, detail: "zstd: no compression context") }
            return try ChunkCodec.compress(chunk, level: level, context: context)
        case .shuffleZstd:
            guard let context, let plane, plane.count >= chunk.count else { throw TMTError.codec(item: "", chunk: 0, detail: "shuffle-zstd: no context or plane") }
            let p = UnsafeMutableRawBufferPointer(rebasing: plane[0..<chunk.count])
            ChunkCodec.shuffle(chunk, elementSize: elementSize, into: p)
            return try ChunkCodec.compress(UnsafeRawBufferPointer(p), level: level, context: context)
        }
    }
}
