/// xxHash64 (Yann Collet's XXH64, seed 0 by default): the per-chunk checksum of `.tmt`.
/// Several GB/s, and one hash function for every checksum in the file.
public struct XXH64 {
    static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inline(__always) static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* p2, 31) &* p1
    }
    @inline(__always) static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        (acc ^ round(0, v)) &* p1 &+ p4
    }

    private var v1, v2, v3, v4: UInt64
    private let seed: UInt64
    private var total: UInt64 = 0
    private var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var buffered = 0

    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ XXH64.p1 &+ XXH64.p2
        v2 = seed &+ XXH64.p2
        v3 = seed
        v4 = seed &- XXH64.p1
    }

    /// One-shot hash of a buffer.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var h = XXH64(seed: seed)
        h.update(bytes)
        return h.finalize()
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var p = 0
        let n = bytes.count
        total &+= UInt64(n)
        // Fill a partial 32-byte stripe first.
        if buffered > 0 {
            withUnsafeMutableBytes(of: &buffer) { buf in
                let take = min(32 - buffered, n)
                buf.baseAddress!.advanced(by: buffered).copyMemory(from: base, byteCount: take)
                buffered += take
                p = take
            }
            if buffered < 32 { return }
            let b = buffer
            withUnsafeBytes(of: b) { consumeStripe($0.baseAddress!) }
            buffered = 0
        }
        var a1 = v1, a2 = v2, a3 = v3, a4 = v4
        while n - p >= 32 {
            let s = base + p
            a1 = XXH64.round(a1, UInt64(littleEndian: s.loadUnaligned(as: UInt64.self)))
            a2 = XXH64.round(a2, UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            a3 = XXH64.round(a3, UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
            a4 = XXH64.round(a4, UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
            p += 32
        }
        v1 = a1; v2 = a2; v3 = a3; v4 = a4
        if p < n {
            let rest = n - p
            withUnsafeMutableBytes(of: &buffer) { buf in
                buf.baseAddress!.copyMemory(from: base + p, byteCount: rest)
            }
            buffered = rest
        }
    }

    private mutating func consumeStripe(_ s: UnsafeRawPointer) {
        v1 = XXH64.round(v1, UInt64(littleEndian: s.loadUnaligned(as: UInt64.self)))
        v2 = XXH64.round(v2, UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        v3 = XXH64.round(v3, UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        v4 = XXH64.round(v4, UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    public func finalize() -> UInt64 {
        var h: UInt64
        if total >= 32 {
            h = XXH64.rotl(v1, 1) &+ XXH64.rotl(v2, 7) &+ XXH64.rotl(v3, 12) &+ XXH64.rotl(v4, 18)
            h = XXH64.merge(h, v1)
            h = XXH64.merge(h, v2)
            h = XXH64.merge(h, v3)
            h = XXH64.merge(h, v4)
        } else {
            h = seed &+ XXH64.p5
        }
        h &+= total
        var tail = buffer
        let count = buffered
        withUnsafeBytes(of: &tail) { t in
            var i = 0
            while i + 8 <= count {
                let k = XXH64.round(0, UInt64(littleEndian: t.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                h = XXH64.rotl(h ^ k, 27) &* XXH64.p1 &+ XXH64.p4
                i += 8
            }
            if i + 4 <= count {
                h ^= UInt64(UInt32(littleEndian: t.loadUnaligned(fromByteOffset: i, as: UInt32.self))) &* XXH64.p1
                h = XXH64.rotl(h, 23) &* XXH64.p2 &+ XXH64.p3
                i += 4
            }
            while i < count {
                h ^= UInt64(t[i]) &* XXH64.p5
                h = XXH64.rotl(h, 11) &* XXH64.p1
                i += 1
            }
        }
        h ^= h >> 33
        h &*= XXH64.p2
        h ^= h >> 29
        h &*= XXH64.p3
        h ^= h >> 32
        return h
    }
}

extension UInt64 {
    /// 16 lowercase hex digits.
    package var hex16: String {
        let s = String(self, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
