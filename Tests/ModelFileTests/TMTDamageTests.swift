import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import ModelFile

/// Damaged, truncated and lying `.tmt` files give typed errors, never a crash.
final class TMTDamageTests: XCTestCase {
    var dir: TempDir!
    var good: [UInt8] = []

    override func setUpWithError() throws {
        dir = TempDir()
        let p = dir.file("good.tmt")
        let w = try TMTWriter(path: p, options: TMTWriterOptions(codec: .shuffleZstd, chunkSize: TMTLayout.minChunkSize, threads: 2))
        let a = syntheticBF16(70_000), b = syntheticBF16(1000, seed: 9)
        try a.withUnsafeBytes { try w.addTensor(name: "layers.0.attention.wq.weight", dtype: .bf16, shape: [70_000], bytes: $0) }
        try b.withUnsafeBytes { try w.addTensor(name: "norm.weight", dtype: .bf16, shape: [1000], bytes: $0) }
        try Array("a tokenizer".utf8).withUnsafeBytes { try w.addBlob(name: "tokenizer/tokenizer.model", bytes: $0) }
        try w.finish(metadata: .object([:]))
        good = readBytes(p)
    }

    func open(_ bytes: [UInt8]) -> Result<TMTFile, Error> {
        let p = dir.write("t-\(UUID().uuidString).tmt", bytes)
        return Result { try TMTFile(path: p) }
    }

    func testTruncatedAtManyOffsetsIsDetected() {
        for cut in [0, 4, 8, 63, 64, 100, good.count / 2, good.count - 65, good.count - 64, good.count - 1] {
            switch open(Array(good[0..<cut])) {
            case .success: XCTFail("truncated at \(cut) of \(good.count) was accepted")
            case .failure(let e):
                guard let t = e as? TMTError else { return XCTFail("\(cut): untyped error \(e)") }
                switch t {
                case .truncated, .notATMTFile: break
                default: XCTFail("cut at \(cut): expected truncated, got \(t)")
                }
            }
        }
    }

    func testTrailingBytesAreRefused() {
        guard case .failure(let e) = open(good + [0, 0, 0]) else { return XCTFail("accepted") }
        guard case .some(.truncated) = e as? TMTError else {
            // Appended bytes move the trailer: the reader sees no trailer at the end.
            return XCTAssertNotNil(e as? TMTError, "\(e)")
        }
    }

    func testNewerVersionIsRefusedClearly() {
        var b = good
        b[8] = 2
        guard case .failure(let e) = open(b) else { return XCTFail("accepted") }
        XCTAssertEqual(e as? TMTError, .newerVersion(path: (e as? TMTError).map { if case .newerVersion(let p, _) = $0 { return p }; return "" } ?? "", version: 2))
        XCTAssertTrue("\(e)".contains("newer Tramontane"))
    }

    func testFlippedBitInAChunkIsFoundByVerify() throws {
        let f0 = try TMTFile(path: dir.file("good.tmt"))
        let item = try XCTUnwrap(f0.tensor(named: "layers.0.attention.wq.weight"))
        let offsets = item.chunkOffsets
        var b = good
        b[offsets[1] + 10] ^= 0x40
        let p = dir.write("flipped.tmt", b)
        let f = try TMTFile(path: p)  // the directory is intact
        XCTAssertThrowsError(try f.verify()) { e in
            XCTAssertEqual(e as? TMTError, .checksumMismatch(path: p, item: "layers.0.attention.wq.weight", chunk: 1, offset: offsets[1]))
        }
        XCTAssertThrowsError(try f.data(of: f.tensors[0])) { e in XCTAssertNotNil(e as? TMTError) }
        XCTAssertNoThrow(try f.data(of: f.tensors[1]), "the undamaged tensor still reads")
    }

    func testDamagedDirectoryOrTrailerIsRefused() {
        var b = good
        b[good.count - 64 - 20] ^= 1   // inside the directory JSON
        guard case .failure(let e) = open(b) else { return XCTFail("accepted") }
        guard case .some(.corruptDirectory) = e as? TMTError else { return XCTFail("\(e)") }
        var c = good
        c[good.count - 30] ^= 1  // trailer field
        guard case .failure(let e2) = open(c) else { return XCTFail("accepted") }
        guard case .some(.corruptTrailer) = e2 as? TMTError else { return XCTFail("\(e2)") }
    }

    /// A directory that lies (overlapping items, sizes that disagree with dtype × shape) but
    /// carries a correct checksum, as a malicious writer would make it.
    func testLyingDirectoryIsRefused() throws {
        let f = try TMTFile(path: dir.file("good.tmt"))
        var lies: [(String, (inout TMTDirectory) -> Void)] = [
            ("overlap", { $0.tensors[1].offset = $0.tensors[0].offset }),
            ("size", { $0.tensors[0].shape = [70_001] }),
            ("past end", { $0.tensors[1].storedSize += 1 << 30 }),
            ("duplicate", { $0.tensors[1].name = $0.tensors[0].name }),
            ("unaligned", { $0.tensors[1].offset += 1 }),
            ("shape overflow", { $0.tensors[0].shape = [Int.max, 3] }),
            ("chunks", { $0.tensors[0].chunks.removeLast() }),
            ("tail on a float tensor", { $0.tensors[0].tail = .q4_1 }),
            // Sizes near Int.max: the chunk count is computed without rounding up by addition.
            ("blob size Int.max", { $0.blobs[0].size = Int.max }),
            ("blob size Int.max - 1", { $0.blobs[0].size = Int.max - 1 }),
            ("blob chunk size 64 MiB, size Int.max", { $0.blobs[0].size = Int.max; $0.blobs[0].chunkSize = 64 << 20 }),
        ]
        lies.append(("raw size", { $0.tensors[0].codec = .raw }))
        for (what, lie) in lies {
            var d = f.directory
            lie(&d)
            let bytes = try rewrite(directory: d)
            guard case .failure(let e) = open(bytes) else { XCTFail("\(what): accepted"); continue }
            guard case .some(.invalidEntry) = e as? TMTError else { XCTFail("\(what): \(e)"); continue }
        }
    }

    /// Replaces the directory of `good` and fixes up the trailer and checksums.
    func rewrite(directory: TMTDirectory) throws -> [UInt8] {
        let f = try TMTFile(path: dir.file("good.tmt"))
        let dirOffset = f.directoryOffset
        let json = try JSONEncoder().encode(directory)
        var out = Array(good[0..<dirOffset]) + Array(json)
        let trailer = TMTLayout.Trailer(directoryOffset: UInt64(dirOffset), directoryLength: UInt64(json.count),
                                        directoryHash: json.withUnsafeBytes { XXH64.hash($0) },
                                        fileLength: UInt64(out.count + 64))
        out += trailer.encode()
        return out
    }

    /// What opening and then verifying `bytes` finds (nil: nothing).
    func damage(_ bytes: [UInt8]) -> Error? {
        switch open(bytes) {
        case .failure(let e): return e
        case .success(let f):
            do { try f.verify(threads: 2) } catch { return error }
            return nil
        }
    }

    /// A file as `TMTWriter` writes it with every kind of item: a raw tensor (40 bytes, so 24 of
    /// padding follow it), a shuffle-zstd tensor of two chunks, a zstd blob and a raw blob.
    func everyKind() throws -> (bytes: [UInt8], file: TMTFile) {
        let p = dir.file("kinds.tmt")
        let w = try TMTWriter(path: p, options: TMTWriterOptions(codec: .shuffleZstd, chunkSize: TMTLayout.minChunkSize, threads: 2))
        let raw = (0..<10).flatMap { i -> [UInt8] in withUnsafeBytes(of: Float(i).bitPattern.littleEndian, Array.init) }
        try raw.withUnsafeBytes { try w.addTensor(name: "norm.weight", dtype: .f32, shape: [10], bytes: $0, codec: .raw) }
        try syntheticBF16(40_000).withUnsafeBytes { try w.addTensor(name: "tok_embeddings.weight", dtype: .bf16, shape: [40_000], bytes: $0) }
        try Array(repeating: Array("zstd blob ".utf8), count: 50).joined().map { $0 }.withUnsafeBytes {
            try w.addBlob(name: "tokenizer/tokenizer.json", bytes: $0)
        }
        try Array("raw blob".utf8).withUnsafeBytes { try w.addBlob(name: "tokenizer/raw", bytes: $0, codec: .raw) }
        try w.finish(metadata: .object(["config": .object(["dim": .int(4)])]))
        return (readBytes(p), try TMTFile(path: p))
    }

    /// Every byte of the file is covered: header, items, padding, directory and trailer tile it,
    /// and a flipped bit in each class of bytes is found — on open (header, directory, trailer)
    /// or by verify (chunks of every codec, padding) — with that class's error.
    func testAFlippedBitAnywhereIsFound() throws {
        let (good, f) = try everyKind()
        XCTAssertNil(damage(good), "the undamaged file verifies")
        let items = f.tensors + f.blobs
        XCTAssertEqual(Set(items.map(\.codec)), Set(TMTCodec.allCases))
        XCTAssertFalse(f.padding.isEmpty)

        // Coverage: the regions tile the file exactly.
        var regions: [Range<Int>] = [0..<64, f.directoryOffset..<(good.count - 64), (good.count - 64)..<good.count] + f.padding
        regions += items.filter { $0.storedSize > 0 }.map { $0.offset..<($0.offset + $0.storedSize) }
        regions.sort { $0.lowerBound < $1.lowerBound }
        var end = 0
        for r in regions {
            XCTAssertEqual(r.lowerBound, end, "gap or overlap at \(end)")
            end = r.upperBound
        }
        XCTAssertEqual(end, good.count)

        /// First, middle and last byte of a range, every bit of each.
        func flips(_ r: Range<Int>) -> [(Int, UInt8)] {
            Set([r.lowerBound, (r.lowerBound + r.upperBound) / 2, r.upperBound - 1]).sorted().flatMap { o in (0..<8).map { (o, UInt8(1) << $0) } }
        }
        var classes: [(String, Range<Int>, (TMTError) -> Bool)] = [
            ("header magic", 0..<8, { if case .notATMTFile = $0 { return true }; return false }),
            ("header version", 8..<12, { switch $0 { case .notATMTFile, .newerVersion: return true; default: return false } }),
            ("header flags", 12..<16, { if case .corruptHeader = $0 { return true }; return false }),
            ("header reserved", 16..<64, { if case .corruptHeader = $0 { return true }; return false }),
            ("directory", f.directoryOffset..<(good.count - 64), { if case .corruptDirectory = $0 { return true }; return false }),
            ("trailer magic", (good.count - 64)..<(good.count - 56), { if case .truncated = $0 { return true }; return false }),
            ("trailer fields and checksum", (good.count - 56)..<good.count, { if case .corruptTrailer = $0 { return true }; return false }),
        ]
        for item in items {
            classes.append(("\(item.codec.rawValue) item \(item.name)", item.offset..<(item.offset + item.storedSize), {
                if case .checksumMismatch(_, let name, _, _) = $0 { return name == item.name }; return false
            }))
        }
        for gap in f.padding {
            classes.append(("padding \(gap)", gap, { if case .nonZeroPadding(_, let o) = $0 { return gap.contains(o) }; return false }))
        }
        for (what, range, expected) in classes {
            // Small regions (header, trailer, padding): also every byte, one bit each.
            let small = what.hasPrefix("header") || what.hasPrefix("trailer") || what.hasPrefix("padding")
            let positions = flips(range) + (small ? range.map { ($0, UInt8(1) << ($0 % 8)) } : [])
            for (offset, bit) in positions {
                var b = good
                b[offset] ^= bit
                guard let e = damage(b) else { XCTFail("\(what): flip of bit \(bit) at \(offset) was not found"); continue }
                guard let t = e as? TMTError, expected(t) else { XCTFail("\(what): flip of bit \(bit) at \(offset): \(e)"); continue }
            }
        }
    }

    /// A zstd bomb: 100 KB of RLE frames declaring a 3 GiB blob, a valid file. `verify` decodes it
    /// a few chunks at a time: memory stays near the chunk buffers, not the declared size.
    func testVerifyDecodesAZstdBombInBoundedMemory() throws {
        let chunkSize = TMTLayout.maxChunkSize, chunks = 48
        let frame = TMTBuilder.zstdZeros(chunkSize)
        var t = TMTBuilder()
        t.blobs = [.init(name: "tokenizer/bomb", codec: "zstd", size: chunks * chunkSize, chunkSize: chunkSize,
                         chunks: Array(repeating: frame, count: chunks), xxh64: TMTBuilder.xxh64OfZeros(chunks * chunkSize))]
        let bytes = t.build()
        XCTAssertLessThan(bytes.count, 200_000)
        let f = try open(bytes).get()
        let before = peakResidentBytes()
        try f.verify(threads: 2)
        XCTAssertLessThan(peakResidentBytes() - before, 1 << 30, "verify held the declared 3 GiB")
        // The same bomb with one frame a byte short is found, naming the chunk.
        var bad = t
        bad.blobs[0].chunks[7] = TMTBuilder.zstdZeros(chunkSize - 1)
        XCTAssertThrowsError(try open(bad.build()).get().verify(threads: 2)) { e in
            guard case .some(.codec(_, 7, _)) = e as? TMTError else { return XCTFail("\(e)") }
        }
    }

    /// A blob declaring 1 TiB in chunks of 4 stored bytes: no zstd frame expands that much, so
    /// the entry is refused on open, before a decode could ask for the memory.
    func testDeclaredSizeNoChunkCouldHoldIsRefused() {
        let chunkSize = TMTLayout.maxChunkSize, chunks = (1 << 40) / TMTLayout.maxChunkSize
        var t = TMTBuilder()
        t.blobs = [.init(name: "tokenizer/lie", codec: "zstd", size: chunks * chunkSize, chunkSize: chunkSize,
                         chunks: Array(repeating: [0, 0, 0, 0], count: chunks), xxh64: 0)]
        guard case .failure(let e) = open(t.build()) else { return XCTFail("accepted") }
        guard case .some(.invalidEntry(_, "tokenizer/lie", let d)) = e as? TMTError else { return XCTFail("\(e)") }
        XCTAssertTrue(d.contains("cannot decode to 67108864"), d)
    }

    /// Metadata nested 100 000 deep (a 200 KB directory) is a typed error, not a stack overflow.
    func testDeeplyNestedMetadataIsRefused() {
        var t = TMTBuilder()
        t.metadata = "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        guard case .failure(let e) = open(t.build()) else { return XCTFail("accepted") }
        guard case .some(.corruptDirectory) = e as? TMTError else { return XCTFail("\(e)") }
    }

    /// The directory is read by the strict parser every other header uses: a key given twice
    /// (which JSONDecoder took, the last one winning) is refused, and so is a number where an
    /// integer must be.
    func testDirectoryJSONIsReadStrictly() throws {
        var t = TMTBuilder()
        XCTAssertNoThrow(try open(t.build()).get())
        t.metadata = #"{"config": {"dim": 64}, "config": {"dim": 4096}}"#
        guard case .failure(let e) = open(t.build()) else { return XCTFail("duplicate key accepted") }
        guard case .some(.corruptDirectory(_, let detail)) = e as? TMTError, detail.contains("config") else { return XCTFail("\(e)") }
        // The writer's own directory, and the same re-encoded by Foundation's JSONEncoder, read.
        guard let f = try? TMTFile(path: dir.write("g.tmt", good)) else { return XCTFail("the writer's file refused") }
        XCTAssertNoThrow(try TMTFile(path: dir.write("r.tmt", try rewrite(directory: f.directory))))
    }

    /// Header flags or reserved bytes set (a file a newer writer might make, or damage) are
    /// refused on open, naming the byte.
    func testHeaderFlagsAndReservedBytesMustBeZero() throws {
        var t = TMTBuilder()
        XCTAssertNoThrow(try open(t.build()).get())
        t.header[12] = 1
        guard case .failure(let e) = open(t.build()) else { return XCTFail("flags accepted") }
        guard case .some(.corruptHeader(_, 12, _)) = e as? TMTError else { return XCTFail("\(e)") }
        t.header[12] = 0
        t.header[63] = 0x80
        guard case .failure(let e2) = open(t.build()) else { return XCTFail("reserved byte accepted") }
        guard case .some(.corruptHeader(_, 63, _)) = e2 as? TMTError else { return XCTFail("\(e2)") }
    }
}

/// The process's peak resident memory so far (getrusage's `ru_maxrss`, KiB on Linux).
func peakResidentBytes() -> Int {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return u.ru_maxrss * 1024
}
