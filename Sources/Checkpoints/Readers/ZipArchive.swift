import TensorCore

/// The central directory of a zip archive (what `torch.save` writes), including ZIP64 (needed
/// for archives over 4 GiB: Mistral-7B's `consolidated.00.pth` is 14 GB). Only stored
/// (uncompressed) entries can be mapped, which is what torch writes.
package struct ZipArchive {
    package struct Entry {
        package let name: String
        package let method: UInt16
        package let compressedSize: Int
        package let uncompressedSize: Int
        /// Offset of the entry's bytes (after its local header) in the archive.
        package let dataOffset: Int
    }

    package let path: String
    package let entries: [Entry]
    package let byName: [String: Int]

    static let eocdSignature: UInt32 = 0x0605_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let zip64EOCDSignature: UInt32 = 0x0606_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let localSignature: UInt32 = 0x0403_4B50

    package static func hasMagic(_ b: UnsafeRawBufferPointer) -> Bool { b.le(UInt32.self, at: 0) == localSignature }

    package init(_ b: UnsafeRawBufferPointer, path: String) throws {
        self.path = path
        func bad(_ s: String) -> CheckpointError { .invalidZip(path: path, detail: s) }
        // The end-of-central-directory record: 22 bytes plus a comment of up to 65535.
        guard b.count >= 22 else { throw CheckpointError.truncated(path: path, detail: "\(b.count) bytes is too short for a zip archive") }
        var eocd = -1
        var p = b.count - 22
        let lowest = max(0, b.count - 22 - 65535)
        while p >= lowest {
            if b.le(UInt32.self, at: p) == ZipArchive.eocdSignature,
               let commentLength = b.le(UInt16.self, at: p + 20), p + 22 + Int(commentLength) == b.count {
                eocd = p
                break
            }
            p -= 1
        }
        guard eocd >= 0 else { throw CheckpointError.truncated(path: path, detail: "no zip end-of-central-directory record (file cut short?)") }
        do {
            var r = ByteReader(b, offset: eocd + 4)
            let disk = try r.readU16(), cdDisk = try r.readU16()
            var count = UInt64(try r.readU16()); let total16 = try r.readU16()
            var cdSize = UInt64(try r.readU32()), cdOffset = UInt64(try r.readU32())
            guard disk == 0 || disk == 0xFFFF, cdDisk == 0 || cdDisk == 0xFFFF else { throw bad("multi-disk archives are not supported") }
            if count == 0xFFFF || total16 == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
                // ZIP64: the locator sits right before the EOCD.
                guard eocd >= 20, b.le(UInt32.self, at: eocd - 20) == ZipArchive.zip64LocatorSignature else {
                    throw bad("fields saturated but no ZIP64 locator")
                }
                var l = ByteReader(b, offset: eocd - 16)
                _ = try l.readU32()
                let recordOffset = try l.readU64()
                guard recordOffset <= UInt64(eocd - 20), b.le(UInt32.self, at: Int(recordOffset)) == ZipArchive.zip64EOCDSignature else {
                    throw bad("ZIP64 locator points to \(recordOffset), where there is no ZIP64 end record")
                }
                var z = ByteReader(b, offset: Int(recordOffset) + 4)
                _ = try z.readU64(); _ = try z.readU16(); _ = try z.readU16(); _ = try z.readU32(); _ = try z.readU32()
                _ = try z.readU64()
                count = try z.readU64()
                cdSize = try z.readU64()
                cdOffset = try z.readU64()
            }
            guard cdOffset <= UInt64(b.count), cdSize <= UInt64(b.count) - cdOffset else {
                throw CheckpointError.truncated(path: path, detail: "central directory at \(cdOffset)+\(cdSize) lies beyond the \(b.count)-byte file")
            }
            guard count <= cdSize / 46 else { throw bad("\(count) entries cannot fit in a \(cdSize)-byte central directory") }
            var entries: [Entry] = []
            var byName: [String: Int] = [:]
            var c = ByteReader(UnsafeRawBufferPointer(rebasing: b[Int(cdOffset)..<Int(cdOffset + cdSize)]), baseOffset: Int(cdOffset))
            for _ in 0..<count {
                guard try c.readU32() == ZipArchive.centralSignature else { throw bad("bad central directory entry signature at \(c.baseOffset + c.offset - 4)") }
                try c.skip(6)
                let method = try c.readU16()
                try c.skip(8)
                var csize = UInt64(try c.readU32()), usize = UInt64(try c.readU32())
                let nameLength = Int(try c.readU16()), extraLength = Int(try c.readU16()), commentLength = Int(try c.readU16())
                let diskStart = try c.readU16()
                try c.skip(6)
                var localOffset = UInt64(try c.readU32())
                let name = try c.readString(nameLength)
                var extra = ByteReader(try c.readBytes(extraLength))
                try c.skip(commentLength)
                // ZIP64 extended information: the saturated fields, in this order.
                while extra.remaining >= 4 {
                    let id = try extra.readU16(), size = Int(try extra.readU16())
                    var field = ByteReader(try extra.readBytes(size))
                    if id == 0x0001 {
                        if usize == 0xFFFF_FFFF { usize = try field.readU64() }
                        if csize == 0xFFFF_FFFF { csize = try field.readU64() }
                        if localOffset == 0xFFFF_FFFF { localOffset = try field.readU64() }
                    }
                }
                if usize == 0xFFFF_FFFF || csize == 0xFFFF_FFFF || localOffset == 0xFFFF_FFFF {
                    throw bad("entry \(name): saturated size or offset without a ZIP64 extra field")
                }
                guard diskStart == 0 || diskStart == 0xFFFF else { throw bad("entry \(name) on another disk") }
                guard usize <= UInt64(Int.max) else { throw bad("entry \(name): uncompressed size \(usize) is out of range") }
                guard localOffset <= UInt64(b.count) - 30, b.le(UInt32.self, at: Int(localOffset)) == ZipArchive.localSignature else {
                    throw bad("entry \(name): no local header at \(localOffset)")
                }
                guard let ln = b.le(UInt16.self, at: Int(localOffset) + 26), let le = b.le(UInt16.self, at: Int(localOffset) + 28) else {
                    throw CheckpointError.truncated(path: path, detail: "local header of \(name)")
                }
                let dataOffset = Int(localOffset) + 30 + Int(ln) + Int(le)
                guard csize <= UInt64(b.count), dataOffset <= b.count - Int(csize) else {
                    throw CheckpointError.truncated(path: path, detail: "entry \(name) needs bytes \(dataOffset)..<\(UInt64(dataOffset) + csize), file has \(b.count)")
                }
                if method == 0 && csize != usize { throw bad("stored entry \(name) has compressed size \(csize) ≠ size \(usize)") }
                guard byName[name] == nil else { throw bad("duplicate entry \(name)") }
                byName[name] = entries.count
                entries.append(Entry(name: name, method: method, compressedSize: Int(csize), uncompressedSize: Int(usize), dataOffset: dataOffset))
            }
            self.entries = entries
            self.byName = byName
        } catch let e as TruncatedInput {
            throw CheckpointError.truncated(path: path, detail: "zip directory: \(e)")
        }
    }

    package func entry(_ name: String) -> Entry? { byName[name].map { entries[$0] } }
}
