import CZstd
import TensorCore

/// Chunk encoders and decoders: zstd frames and the byte-plane shuffle.
enum ChunkCodec {
    /// Splits `src` (elements of `k` bytes) into `k` byte planes. 16 elements at a time with
    /// SIMD narrowing for k = 2 and 4; the scalar loop finishes the tail (and other k).
    static func shuffle(_ src: UnsafeRawBufferPointer, elementSize k: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / k
        guard n > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        var i = 0
        if k == 2 {
            while i + 16 <= n {
                let v = s.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt16>.self)
                d.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: v), toByteOffset: i, as: SIMD16<UInt8>.self)
                d.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: v &>> 8), toByteOffset: n + i, as: SIMD16<UInt8>.self)
                i += 16
            }
        } else if k == 4 {
            while i + 16 <= n {
                let v = s.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<UInt32>.self)
                for p in 0..<4 {
                    d.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: v &>> UInt32(8 * p)), toByteOffset: p * n + i, as: SIMD16<UInt8>.self)
                }
                i += 16
            }
        }
        let sb = src.bindMemory(to: UInt8.self), db = dst.bindMemory(to: UInt8.self)
        for j in i..<n { for p in 0..<k { db[p * n + j] = sb[j * k + p] } }
    }

    /// Joins `k` byte planes back into elements (the inverse of `shuffle`).
    static func unshuffle(_ src: UnsafeRawBufferPointer, elementSize k: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / k
        guard n > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        var i = 0
        if k == 2 {
            while i + 16 <= n {
                let lo = SIMD16<UInt16>(truncatingIfNeeded: s.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self))
                let hi = SIMD16<UInt16>(truncatingIfNeeded: s.loadUnaligned(fromByteOffset: n + i, as: SIMD16<UInt8>.self))
                d.storeBytes(of: lo | (hi &<< 8), toByteOffset: 2 * i, as: SIMD16<UInt16>.self)
                i += 16
            }
        } else if k == 4 {
            while i + 16 <= n {
                var v = SIMD16<UInt32>(repeating: 0)
                for p in 0..<4 {
                    v |= SIMD16<UInt32>(truncatingIfNeeded: s.loadUnaligned(fromByteOffset: p * n + i, as: SIMD16<UInt8>.self)) &<< UInt32(8 * p)
                }
                d.storeBytes(of: v, toByteOffset: 4 * i, as: SIMD16<UInt32>.self)
                i += 16
            }
        }
        let sb = src.bindMemory(to: UInt8.self), db = dst.bindMemory(to: UInt8.self)
        for j in i..<n { for p in 0..<k { db[j * k + p] = sb[p * n + j] } }
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

/// Per-thread zstd contexts, created on first use and freed on deinit. Unchecked Sendable:
/// the contexts are fixed at init, and a parallel loop's worker `w` uses only context `w`.
final class ZstdContexts: @unchecked Sendable {
    let compression: [OpaquePointer]
    let decompression: [OpaquePointer]

    init(threads: Int, compress: Bool) {
        var c: [OpaquePointer] = [], d: [OpaquePointer] = []
        for _ in 0..<threads {
            if compress { if let x = ZSTD_createCCtx() { c.append(x) } }
            else { if let x = ZSTD_createDCtx() { d.append(x) } }
        }
        compression = c
        decompression = d
    }

    deinit {
        for c in compression { ZSTD_freeCCtx(c) }
        for d in decompression { ZSTD_freeDCtx(d) }
    }
}
