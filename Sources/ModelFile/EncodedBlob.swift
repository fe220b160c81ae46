import TensorCore

/// A blob's chunks encoded ahead of time, on any thread, for `TMTWriter.addBlob(name:encoded:)`
/// to write: a tokenizer can be compressed while the tensors are still being quantized instead
/// of in the serial step that ends the file (SmolLM2's GGUF tokenizer as JSON: ~5 ms of zstd).
/// The chunks are the ones `addBlob(name:bytes:)` writes: cut every `chunkSize` bytes, each its
/// own frame at `level`.
package struct EncodedBlob: Sendable {
    let size: Int
    let codec: TMTCodec
    let chunkSize: Int
    let chunks: [[UInt8]]
    let xxh64: UInt64

    /// Shuffling makes no sense for bytes: `.shuffleZstd` is stored as `.zstd` (`ChunkEncoder`).
    package init(_ bytes: UnsafeRawBufferPointer, codec requested: TMTCodec = .zstd, level: Int32 = 1,
                chunkSize: Int = TMTLayout.defaultChunkSize) throws {
        try TMTLayout.checkChunkSize(chunkSize, path: "-")
        let encoder = ChunkEncoder(requested, elementSize: 1, level: level)
        let context = encoder.codec == .raw ? nil : ZstdContexts(threads: 1, compress: true)
        var chunks: [[UInt8]] = []
        var p = 0
        while p < bytes.count {
            let c = UnsafeRawBufferPointer(rebasing: bytes[p..<min(bytes.count, p + chunkSize)])
            chunks.append(try encoder.encode(c, context: context?.compression.first, plane: nil))
            p += chunkSize
        }
        let codec = encoder.codec
        self.size = bytes.count
        self.codec = codec
        self.chunkSize = chunkSize
        self.chunks = chunks
        self.xxh64 = XXH64.hash(bytes)
    }
}
