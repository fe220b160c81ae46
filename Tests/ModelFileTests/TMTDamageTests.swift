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
        let dirOffset = f.tensors.map { $0.offset + $0.storedSize }.max()!
        let json = try JSONEncoder().encode(directory)
        var out = Array(good[0..<dirOffset]) + Array(json)
        let trailer = TMTLayout.Trailer(directoryOffset: UInt64(dirOffset), directoryLength: UInt64(json.count),
                                        directoryHash: json.withUnsafeBytes { XXH64.hash($0) },
                                        fileLength: UInt64(out.count + 64))
        out += trailer.encode()
        return out
    }
}
