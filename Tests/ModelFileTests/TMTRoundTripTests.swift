import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import ModelFile

/// Deterministic Gaussian-ish bf16 weights.
func syntheticBF16(_ n: Int, seed: UInt64 = 1) -> [UInt8] {
    var s = seed
    var out: [UInt8] = []
    out.reserveCapacity(n * 2)
    for _ in 0..<n {
        var sum: Float = 0
        for _ in 0..<4 {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            sum += Float(s >> 40) / Float(1 << 24) - 0.5
        }
        out.appendLE(FloatConversion.floatToBF16(sum * 0.02))
    }
    return out
}

final class TMTRoundTripTests: XCTestCase {
    func write(_ path: String, codec: TMTCodec, chunk: Int = TMTLayout.minChunkSize, tensors: [(String, DType, [Int], [UInt8])],
               blobs: [(String, [UInt8])] = []) throws {
        let w = try TMTWriter(path: path, options: TMTWriterOptions(codec: codec, level: 3, chunkSize: chunk, threads: 2))
        for (name, dtype, shape, bytes) in tensors {
            try bytes.withUnsafeBytes { try w.addTensor(name: name, dtype: dtype, shape: shape, bytes: $0) }
        }
        for (name, bytes) in blobs { try bytes.withUnsafeBytes { try w.addBlob(name: name, bytes: $0) } }
        try w.finish(metadata: .object(["config": .object(["dim": .int(64)])]))
    }

    func testEveryCodecRoundTrips() throws {
        let dir = TempDir()
        // Several chunks (64 KiB each), an odd-sized last chunk, an f32 and an empty tensor.
        let big = syntheticBF16(100_003)
        let f32 = (0..<5000).flatMap { i -> [UInt8] in var b: [UInt8] = []; b.appendLE(Float(i).bitPattern * 3); return b }
        let tensors: [(String, DType, [Int], [UInt8])] = [
            ("a", .bf16, [100_003], big), ("b", .f32, [50, 100], f32), ("empty", .f16, [0, 4], []),
            ("q", .q8_0, [2, 32], [UInt8](repeating: 5, count: 68)),
        ]
        for codec in TMTCodec.allCases {
            let p = dir.file("m-\(codec.rawValue).tmt")
            try write(p, codec: codec, tensors: tensors, blobs: [("tokenizer/tokenizer.model", Array("hello".utf8))])
            let f = try TMTFile(path: p)
            XCTAssertEqual(f.tensors.map(\.name), ["a", "b", "empty", "q"])
            for (name, dtype, shape, bytes) in tensors {
                guard let item = f.tensor(named: name) else { return XCTFail("no \(name)") }
                XCTAssertEqual(item.dtype, dtype)
                XCTAssertEqual(item.shape, shape)
                XCTAssertEqual(item.offset % 64, 0)
                XCTAssertTrue(try f.data(of: item).array == bytes, "\(codec) \(name)")
            }
            XCTAssertEqual(f.tensor(named: "a")?.chunks.count, 4)
            if codec == .shuffleZstd { XCTAssertEqual(f.tensor(named: "q")?.codec, .zstd, "block types are not shuffled") }
            XCTAssertEqual(try f.data(of: XCTUnwrap(f.blob(named: "tokenizer/tokenizer.model"))).array, Array("hello".utf8))
            XCTAssertEqual(f.metadata["config"]?["dim"]?.intValue, 64)
            XCTAssertNoThrow(try f.verify())
        }
    }

    /// Decoding a stream of compressed tensors recycles the file's own buffers: a tensor let go
    /// lends its memory to the next one of about its size, a small one kept (as a loaded model
    /// keeps its weights) does not take it, and the shuffle planes come back after each item.
    func testDecodedItemsRecycleTheFilesBuffers() throws {
        let dir = TempDir()
        let p = dir.file("m.tmt")
        let tensors: [(String, DType, [Int], [UInt8])] = [
            ("a", .bf16, [100_000], syntheticBF16(100_000)), ("b", .bf16, [90_000], syntheticBF16(90_000, seed: 2)),
            ("n", .bf16, [1000], syntheticBF16(1000, seed: 3)),
        ]
        try write(p, codec: .shuffleZstd, tensors: tensors)
        let f = try TMTFile(path: p)
        var a: ByteRegion? = try f.data(of: f.tensors[0], threads: 2)
        let base = a?.bytes.baseAddress
        XCTAssertEqual(f.decoded.idleBytes, 0, "in use")
        XCTAssertEqual(f.scratch.idleBytes, 2 * TMTLayout.minChunkSize, "a plane per worker, back after the item")
        a = nil
        XCTAssertEqual(f.decoded.idleBytes, 200_704, "back, in whole 4 KiB pages")
        let n = try f.data(of: f.tensors[2], threads: 2)
        XCTAssertNotEqual(n.bytes.baseAddress, base, "a small tensor kept alive must not pin the large buffer")
        let b = try f.data(of: f.tensors[1], threads: 2)
        XCTAssertEqual(b.bytes.baseAddress, base, "a tensor of about the same size reuses it")
        XCTAssertEqual(f.decoded.idleBytes, 0)
        XCTAssertTrue(b.array == tensors[1].3)
        XCTAssertTrue(n.array == tensors[2].3)
    }

    /// A tensor written in pieces (`beginTensor` / `appendTensorBytes` / `endTensor`) gives the
    /// same file, byte for byte, as the same tensor given whole: chunks are cut at the same
    /// places and partial chunks wait for the next piece. Pieces of 1 byte up to several chunks.
    func testPiecewiseTensorsWriteTheSameFile() throws {
        let dir = TempDir()
        let big = syntheticBF16(300_001, seed: 9)
        let tensors: [(String, DType, [Int], [UInt8])] = [
            ("a", .bf16, [300_001], big), ("q", .q4_0, [100, 64], Array(big[0..<3600])), ("empty", .f16, [0, 4], []),
        ]
        var rng = SeededRandom(seed: 5)
        for codec in TMTCodec.allCases {
            let whole = dir.file("whole-\(codec.rawValue).tmt"), pieces = dir.file("pieces-\(codec.rawValue).tmt")
            try write(whole, codec: codec, tensors: tensors)
            let w = try TMTWriter(path: pieces, options: TMTWriterOptions(codec: codec, level: 3, chunkSize: TMTLayout.minChunkSize, threads: 2))
            for (name, dtype, shape, bytes) in tensors {
                try w.beginTensor(name: name, dtype: dtype, shape: shape)
                var p = 0
                while p < bytes.count {
                    let n = min(bytes.count - p, [1, 7, 1000, 65_536, 65_537, 200_000].randomElement(using: &rng) ?? 1)
                    try bytes.withUnsafeBytes { try w.appendTensorBytes(UnsafeRawBufferPointer(rebasing: $0[p..<(p + n)])) }
                    p += n
                }
                try w.endTensor()
            }
            try w.finish(metadata: .object(["config": .object(["dim": .int(64)])]))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: pieces)), try Data(contentsOf: URL(fileURLWithPath: whole)), "\(codec)")
            XCTAssertNoThrow(try TMTFile(path: pieces).verify())
        }
        // Too many bytes, too few, and a second tensor while one is open are refused.
        let w = try TMTWriter(path: dir.file("bad.tmt"))
        try w.beginTensor(name: "t", dtype: .f32, shape: [2])
        XCTAssertThrowsError(try w.beginTensor(name: "u", dtype: .f32, shape: [2]))
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 12).withUnsafeBytes { try w.appendTensorBytes($0) })
        try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try w.appendTensorBytes($0) }
        XCTAssertThrowsError(try w.endTensor(), "4 of 8 bytes")
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try w.appendTensorBytes($0) }, "no tensor is open")
        w.abandon()
    }

    /// The directory is written with `JSONWriter` from `TMTDirectory.jsonValue`: the same JSON
    /// value as its `Codable` form gives (JSONEncoder), so readers of either see one directory.
    func testDirectoryJSONEqualsItsCodableForm() throws {
        let item = TMTItem(name: "t \"q\"\n", dtype: .q4_0, shape: [2, 32], codec: .zstd, elementSize: nil, offset: 64, storedSize: 40, size: 36,
                           chunkSize: 65536, chunks: [TMTChunk(storedLength: 40, checksum: 0xDEAD_BEEF_0123_4567)], xxh64: "0123456789abcdef")
        var blob = item
        blob.dtype = nil; blob.shape = nil; blob.codec = .shuffleZstd; blob.elementSize = 2; blob.name = "tokenizer/é"
        let d = TMTDirectory(metadata: .object(["config": .object(["dim": .int(64), "eps": .double(1e-5), "tied": .bool(true), "x": .null]),
                                                "path": .string("a/b\\c\u{1}")]), blobs: [blob], tensors: [item])
        let ours = try JSONWriter.bytes(d.jsonValue).withUnsafeBytes { try JSONParser.parse($0) }
        let codable = try Array(JSONEncoder().encode(d)).withUnsafeBytes { try JSONParser.parse($0) }
        XCTAssertEqual(ours, codable)
        let back = try JSONDecoder().decode(TMTDirectory.self, from: Data(JSONWriter.bytes(d.jsonValue)))
        XCTAssertEqual(back.tensors[0].chunks, item.chunks)
        XCTAssertEqual(back.blobs[0].elementSize, 2)
        // And through the reader's own path (the strict parser, then `TMTDirectory(json:)`).
        let read = try TMTDirectory(json: ours)
        XCTAssertEqual(read.tensors[0].chunks, item.chunks)
        XCTAssertEqual(read.blobs[0].elementSize, 2)
        XCTAssertEqual(read.jsonValue, d.jsonValue)
    }

    func testShuffleCompressesGaussianBF16BetterThanPlainZstd() throws {
        let dir = TempDir()
        let data = syntheticBF16(1 << 19)
        var ratios: [TMTCodec: Double] = [:]
        for codec in TMTCodec.allCases {
            let p = dir.file("\(codec.rawValue).tmt")
            try write(p, codec: codec, chunk: 1 << 20, tensors: [("w", .bf16, [1 << 19], data)])
            ratios[codec] = try TMTFile(path: p).tensors[0].compressionRatio
        }
        XCTAssertEqual(ratios[.raw], 1)
        XCTAssertLessThan(ratios[.shuffleZstd]!, 0.75, "\(ratios)")
        XCTAssertLessThan(ratios[.shuffleZstd]!, ratios[.zstd]!, "\(ratios)")
    }

    func testWriterRefusesWrongSizeAndDuplicates() throws {
        let dir = TempDir()
        let w = try TMTWriter(path: dir.file("x.tmt"))
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 6).withUnsafeBytes { try w.addTensor(name: "t", dtype: .f32, shape: [2], bytes: $0) })
        try [UInt8](repeating: 0, count: 8).withUnsafeBytes { try w.addTensor(name: "t", dtype: .f32, shape: [2], bytes: $0) }
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 8).withUnsafeBytes { try w.addTensor(name: "t", dtype: .f32, shape: [2], bytes: $0) })
        w.abandon()
        XCTAssertEqual(dir.contents(), [], "abandoned writer leaves no file")
    }

    func testFullDiskDuringWriteLeavesNoPartialFile() throws {
        let dir = TempDir()
        let dest = dir.write("model.tmt", Array("old".utf8))
        var budget = 10_000
        let w = try TMTWriter(path: dest, replacing: true, options: TMTWriterOptions(codec: .raw, chunkSize: TMTLayout.minChunkSize, threads: 1), write: { fd, p, n in
            if budget <= 0 { errno = ENOSPC; return -1 }
            let k = min(n, budget); budget -= k
            return Glibc.write(fd, p, k)
        })
        let data = syntheticBF16(50_000)
        // With direct I/O the bytes reach the disk when the staging buffer fills or at `finish`.
        XCTAssertThrowsError(try {
            try data.withUnsafeBytes { try w.addTensor(name: "w", dtype: .bf16, shape: [50_000], bytes: $0) }
            try w.finish(metadata: .object([:]))
        }()) { e in
            XCTAssertEqual((e as? IOError)?.errno, ENOSPC, "\(e)")
        }
        XCTAssertEqual(readBytes(dest), Array("old".utf8))
        XCTAssertEqual(dir.contents(), ["model.tmt"])
    }
}
