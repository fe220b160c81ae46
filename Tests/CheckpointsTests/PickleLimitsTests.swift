import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

/// Pickles that are small but describe something huge, deep or cyclic: each is refused (or
/// read) in time and memory that follow the file, never by a trap or a stack overflow.
final class PickleLimitsTests: XCTestCase {
    let dir = TempDir()

    func read(_ pickle: [UInt8], storage: [UInt8] = [0, 0, 0, 0]) throws -> [SourceTensor] {
        var z = ZipBuilder()
        z.entries = [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8)), ("archive/data/0", storage)]
        return try PyTorchArchive.read(MappedFile(path: dir.write("m-\(UUID().uuidString).pth", z.build())))
    }

    /// 50 KB pickles nesting lists 25 000 deep, dicts 10 000 deep and tuples 50 000 deep: the
    /// unpickler empties lists and dicts without recursion and refuses tuples past its depth
    /// limit. (Releasing the nested lists recursively overflowed the stack.)
    func testDeeplyNestedPicklesDoNotOverflowTheStack() {
        var lists = PickleBuilder()
        for _ in 0..<25_000 { lists.emptyList() }
        for _ in 0..<24_999 { lists.append() }
        lists.stop()
        var dicts = PickleBuilder()
        dicts.emptyDict()
        for _ in 0..<10_000 { dicts.bytes += [0x8C, 1, 0x61]; dicts.emptyDict() }   // SHORT_BINUNICODE 'a', {}
        for _ in 0..<10_000 { dicts.setItem() }
        dicts.stop()
        var tuples = PickleBuilder()
        tuples.none()
        for _ in 0..<50_000 { tuples.tuple1() }
        tuples.stop()
        for (what, p) in [("lists", lists.bytes), ("dicts", dicts.bytes), ("tuples", tuples.bytes)] {
            XCTAssertLessThanOrEqual(p.count, 52_000, what)
            XCTAssertThrowsError(try read(p), what) { e in
                switch e as? CheckpointError {
                case .some(.unrecognizedFormat(_, let d)): XCTAssertTrue(d.contains("no dict of tensors"), "\(what): \(d)")
                case .some(.invalidPickle(_, _, let d)): XCTAssertTrue(d.contains("nested more than"), "\(what): \(d)")
                default: XCTFail("\(what): \(e)")
                }
            }
        }
        // The same lists, cut short: the error path empties them too.
        XCTAssertThrowsError(try read(Array(lists.bytes.dropLast(100)))) { e in
            guard case .some(.invalidPickle) = e as? CheckpointError else { return XCTFail("\(e)") }
        }
    }

    /// 50 000 small tuples built over a stack of 200 000 values: each TUPLE takes its items
    /// without copying the rest of the stack (time follows the file, not file × stack).
    func testTuplesOverADeepStackTakeLinearTime() {
        var p = PickleBuilder()
        for _ in 0..<200_000 { p.none() }
        for _ in 0..<50_000 { p.mark(); p.none(); p.tuple(); p.op(0x30) }   // MARK None TUPLE POP
        p.stop()
        let start = Date()
        XCTAssertThrowsError(try read(p.bytes)) { e in
            guard case .some(.unrecognizedFormat) = e as? CheckpointError else { return XCTFail("\(e)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    /// A dict holding itself under 40 keys (through the memo) was walked 40^8 times; a dict
    /// shared by two keys is refused as well, naming both places.
    func testCyclicOrSharedDictsAreRefused() {
        var cyclic = PickleBuilder()
        cyclic.emptyDict(); cyclic.memoize(0)
        cyclic.tensorItem("w", shape: [1], stride: [1], count: 1); cyclic.setItem()
        for k in 0..<40 { cyclic.string("self\(k)"); cyclic.memoGet(0); cyclic.setItem() }
        cyclic.stop()
        var shared = PickleBuilder()
        shared.emptyDict()
        shared.string("model"); shared.emptyDict(); shared.memoize(1)
        shared.tensorItem("w", shape: [1], stride: [1], count: 1); shared.setItem()
        shared.setItem()
        shared.string("ema"); shared.memoGet(1); shared.setItem()
        shared.stop()
        for (what, p, names) in [("cyclic", cyclic.bytes, ["self0", "(the root)"]), ("shared", shared.bytes, ["ema", "model"])] {
            let start = Date()
            XCTAssertThrowsError(try read(p), what) { e in
                guard case .some(.invalidHeader(_, let d)) = e as? CheckpointError else { return XCTFail("\(what): \(e)") }
                for n in names { XCTAssertTrue(d.contains("'\(n)'"), "\(what): \(d)") }
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 5, what)
        }
    }

    /// Storage offsets and strides near Int.max: the reach of the view is computed with checked
    /// arithmetic (the offset plus the strides' reach trapped).
    func testViewOffsetsAndStridesNearIntMaxAreRefused() {
        let max = Int64.max
        let cases: [(String, [Int64], [Int64], Int64)] = [
            ("offset Int.max - 1 plus a reach of 2", [3], [1], max - 1),
            ("offset Int.max", [2], [1], max),
            ("two strides of Int.max", [2, 2], [max, max], 0),
            ("stride times size", [3], [max / 2 + 1], 0),
        ]
        for (what, shape, stride, offset) in cases {
            XCTAssertThrowsError(try read(PickleBuilder.stateDict(tensor: "w", shape: shape, stride: stride, count: 1, offset: offset)), what) { e in
                guard case .some(.invalidTensor(_, "w", _)) = e as? CheckpointError else { return XCTFail("\(what): \(e)") }
            }
        }
    }

    /// A broadcast view (stride 0) of 2^32 elements over one stored float would become a 16 GiB
    /// copy on `inspect --hash` from a 500-byte pickle: it is refused when the file is read.
    func testBroadcastViewLargerThanItsStorageIsRefused() throws {
        let p = PickleBuilder.stateDict(tensor: "w", shape: [65_536, 65_536], stride: [0, 0], count: 1)
        XCTAssertLessThan(p.count, 500)
        XCTAssertThrowsError(try read(p)) { e in
            guard case .some(.invalidTensor(_, "w", let d)) = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertTrue(d.contains("repeats elements"), d)
        }
        // A view that repeats elements but is no larger than its storage still reads.
        let storage = (0..<4).flatMap { i -> [UInt8] in withUnsafeBytes(of: Float(i).bitPattern.littleEndian, Array.init) }
        let t = try read(PickleBuilder.stateDict(tensor: "w", shape: [2, 2], stride: [1, 1], count: 4), storage: storage)
        XCTAssertEqual(try t[0].load().array.count, 16)
    }
}
