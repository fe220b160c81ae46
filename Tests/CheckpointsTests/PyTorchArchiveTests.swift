import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

final class PyTorchArchiveTests: XCTestCase {
    let dir = TempDir()

    func archive(pickle: [UInt8], storage: [UInt8], zip64: ZipBuilder.Zip64 = .none) -> String {
        var z = ZipBuilder()
        z.entries = [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8)), ("archive/data/0", storage)]
        return dir.write("m-\(UUID().uuidString).pth", z.build(zip64: zip64))
    }

    func floats(_ v: [Float]) -> [UInt8] { var b: [UInt8] = []; for x in v { b.appendLE(x.bitPattern) }; return b }

    func testReadsAStateDictWithContiguousAndStridedTensors() throws {
        let storage = floats([1, 2, 3, 4, 5, 6])
        let contiguous = PickleBuilder.stateDict(tensor: "w", shape: [2, 3], stride: [3, 1], count: 6)
        var t = try PyTorchArchive.read(MappedFile(path: archive(pickle: contiguous, storage: storage)))
        XCTAssertEqual(t.map(\.name), ["w"])
        XCTAssertEqual(t[0].dtype, .f32)
        XCTAssertEqual(try t[0].load().array, storage)
        // A saved transpose: shape [3, 2], stride [1, 3] over the same storage.
        let strided = PickleBuilder.stateDict(tensor: "wt", shape: [3, 2], stride: [1, 3], count: 6)
        t = try PyTorchArchive.read(MappedFile(path: archive(pickle: strided, storage: storage)))
        XCTAssertEqual(try t[0].load().array, floats([1, 4, 2, 5, 3, 6]))
    }

    func testZip64ArchiveReads() throws {
        let storage = floats([7, 8])
        let p = PickleBuilder.stateDict(tensor: "w", shape: [2], stride: [1], count: 2)
        let t = try PyTorchArchive.read(MappedFile(path: archive(pickle: p, storage: storage, zip64: .forced)))
        XCTAssertEqual(try t[0].load().array, storage)
    }

    func testZip64EdgeCasesAreTypedErrors() {
        let p = PickleBuilder.stateDict(tensor: "w", shape: [2], stride: [1], count: 2)
        for (mode, expected) in [(ZipBuilder.Zip64.saturatedWithoutExtra, "without a ZIP64 extra"), (.badLocator, "ZIP64 locator points"),
                                 (.hugeUncompressedSize, "uncompressed size 18446744073709551615 is out of range")] {
            XCTAssertThrowsError(try PyTorchArchive.read(MappedFile(path: archive(pickle: p, storage: floats([1, 2]), zip64: mode)))) { e in
                guard case .some(.invalidZip(_, let d)) = e as? CheckpointError else { return XCTFail("\(mode): \(e)") }
                XCTAssertTrue(d.contains(expected), "\(mode): \(d)")
            }
        }
    }

    func testTruncatedArchiveIsTyped() throws {
        let good = readBytes(archive(pickle: PickleBuilder.stateDict(tensor: "w", shape: [2], stride: [1], count: 2), storage: floats([1, 2])))
        for cut in [0, 10, 40, good.count / 2, good.count - 10, good.count - 1] {
            let path = dir.write("cut\(cut).pth", Array(good[0..<cut]))
            XCTAssertThrowsError(try PyTorchArchive.read(MappedFile(path: path)), "cut \(cut)") { e in
                XCTAssertNotNil(e as? CheckpointError, "cut \(cut): \(e)")
            }
        }
    }

    func testForbiddenGlobalsAreRefusedByName() {
        for (module, name) in [("os", "system"), ("builtins", "eval"), ("posix", "system"), ("subprocess", "Popen"), ("torch", "load")] {
            var p = PickleBuilder()
            p.global(module, name)
            p.mark(); p.string("echo pwned"); p.tuple(); p.reduce(); p.stop()
            XCTAssertThrowsError(try PyTorchArchive.read(MappedFile(path: archive(pickle: p.bytes, storage: [])))) { e in
                XCTAssertEqual(e as? CheckpointError, .forbiddenPickleGlobal(path: (e as? CheckpointError)?.pathOfPickle ?? "", global: "\(module).\(name)"))
                XCTAssertTrue("\(e)".contains("\(module).\(name)"))
            }
        }
        // The same through STACK_GLOBAL (protocol 4).
        var p = PickleBuilder()
        p.string("builtins"); p.string("exec"); p.op(0x93); p.stop()
        XCTAssertThrowsError(try PyTorchArchive.read(MappedFile(path: archive(pickle: p.bytes, storage: [])))) { e in
            XCTAssertTrue("\(e)".contains("refusing pickle global builtins.exec"), "\(e)")
        }
    }

    func testUnknownOpcodesAndLiesAreRefused() {
        var p = PickleBuilder(); p.op(0x69); p.stop()   // INST: the old way to call anything
        XCTAssertThrowsError(try PyTorchArchive.read(MappedFile(path: archive(pickle: p.bytes, storage: [])))) { e in
            guard case .some(.invalidPickle(_, _, let d)) = e as? CheckpointError else { return XCTFail("\(e)") }
            XCTAssertTrue(d.contains("0x69"))
        }
        // A view reaching past its storage.
        let lie = PickleBuilder.stateDict(tensor: "w", shape: [100], stride: [1], count: 2)
        XCTAssertThrowsError(try PyTorchArchive.read(MappedFile(path: archive(pickle: lie, storage: floats([1, 2]))))) { e in
            guard case .some(.invalidTensor(_, "w", _)) = e as? CheckpointError else { return XCTFail("\(e)") }
        }
        // A storage claiming more elements than its zip entry holds.
        let big = PickleBuilder.stateDict(tensor: "w", shape: [2], stride: [1], count: 1000)
        XCTAssertThrowsError(try PyTorchArchive.read(MappedFile(path: archive(pickle: big, storage: floats([1, 2]))))) { e in
            guard case .some(.invalidTensor(_, "w", _)) = e as? CheckpointError else { return XCTFail("\(e)") }
        }
        // A pickle cut short.
        let cut = Array(PickleBuilder.stateDict(tensor: "w", shape: [2], stride: [1], count: 2).dropLast(10))
        XCTAssertThrowsError(try PyTorchArchive.read(MappedFile(path: archive(pickle: cut, storage: floats([1, 2]))))) { e in
            guard case .some(.invalidPickle) = e as? CheckpointError else { return XCTFail("\(e)") }
        }
    }
}

extension CheckpointError {
    var pathOfPickle: String { if case .forbiddenPickleGlobal(let p, _) = self { return p }; return "" }
}
