import CZstd
import TensorCore

/// Chunk encoders and decoders: zstd frames and the byte-plane shuffle.
enum ChunkCodec {
    /// Splits `src` (elements of `k` bytes) into `k` byte planes.
    static func shuffle(_ src: UnsafeRawBufferPointer, elementSize k: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / k
        let s = src.bindMemory(to: UInt8.self), d = dst.bindMemory(to: UInt8.self)
        if k == 2 {
            for i in 0..<n { d[i] = s[2 * i]; d[n + i] = s[2 * i + 1] }
        } else {
            for p in 0..<k { for i in 0..<n { d[p * n + i] = s[i * k + p] } }
        }
    }

    /// Joins `k` byte planes back into elements.
    static func unshuffle(_ src: UnsafeRawBufferPointer, elementSize k: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / k
        let s = src.bindMemory(to: UInt8.self), d = dst.bindMemory(to: UInt8.self)
        if k == 2 {
            for i in 0..<n { d[2 * i] = s[i]; d[2 * i + 1] = s[n + i] }
        } else {
            for p in 0..<k { for i in 0..<n { d[i * k + p] = s[p * n + i] } }
        }
    }

    static func zstdErrorName(_ code: Int) -> String { String(cString: ZSTD_getErrorName(code)) }

    /// Compresses one chunk into a new buffer.
    static func compress(_ src: UnsafeRawBufferPointer, level: Int32, context: OpaquePointer) throws(TMTError) -> [UInt8] {
        let bound = ZSTD_compressBound(src.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = out.withUnsafeMutableBytes { dst in
            ZSTD_compressCCtx(context, dst.baseAddress, bound, src.baseAddress, src.count, level)
        }
        if ZSTD_isError(n) != 0 { throw .codec(item: "", chunk: 0, detail: "zstd: \(zstdErrorName(n))") }
        out.removeSubrange(n...)
        return out
    }

    /// Decompresses one frame into exactly `dst.count` bytes.
    static func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer, context: OpaquePointer) -> String? {
        let n = ZSTD_decompressDCtx(context, dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(n) != 0 { return "zstd: \(zstdErrorName(n))" }
        if n != dst.count { return "decoded \(n) bytes, expected \(dst.count)" }
        return nil
    }
}

/// Per-thread zstd contexts, created on first use and freed on deinit.
final class ZstdContexts {
    private(set) var compression: [OpaquePointer] = []
    private(set) var decompression: [OpaquePointer] = []

    init(threads: Int, compress: Bool) {
        for _ in 0..<threads {
            if compress { if let c = ZSTD_createCCtx() { compression.append(c) } }
            else { if let d = ZSTD_createDCtx() { decompression.append(d) } }
        }
    }

    deinit {
        for c in compression { ZSTD_freeCCtx(c) }
        for d in decompression { ZSTD_freeDCtx(d) }
    }
}
