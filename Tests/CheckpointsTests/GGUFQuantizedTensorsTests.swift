import TensorCore
import TestSupport
import XCTest
@testable import Checkpoints

/// GGUF tensors of the IQ4 and K-quant types read with their ggml type ids, shapes and bytes:
/// the bytes gguf-py wrote (Tests/Fixtures/quant), whose decoding QuantizationTests checks
/// (IQ4Tests, KQuantGGMLTests).
final class GGUFQuantizedTensorsTests: XCTestCase {
    /// A GGUF that gguf-py wrote with IQ4_NL and IQ4_XS tensors (scripts/fixtures/ggml_iq4.py).
    func testReadsIQ4WrittenByGGUFPy() throws {
        let v = try FixtureSafetensors.read(Fixtures.quant("ggml-iq4.safetensors"))
        let g = try GGUFFile(MappedFile(path: Fixtures.quant("ggml-iq4.gguf")))
        for (name, dtype) in [("IQ4_NL", DType.iq4_nl), ("IQ4_XS", .iq4_xs)] {
            let t = try XCTUnwrap(g.tensors.first { $0.name == "smollm2.\(name.lowercased())" })
            XCTAssertEqual(t.dtype, dtype)
            XCTAssertEqual(t.shape, [12, 512])
            XCTAssertEqual(try t.load().array, try XCTUnwrap(v["smollm2.\(name).bytes"]).bytes.array, name)
        }
    }

    /// A GGUF holding Q5_K, Q3_K and Q2_K (ggml ids 13, 11, 10) tensors of gguf-py's bytes
    /// (Tests/Fixtures/quant/ggml-kquants.safetensors), 256-wide rows.
    func testReadsKQuants() throws {
        let formats: [(String, DType)] = [("Q5_K", .q5_k), ("Q3_K", .q3_k), ("Q2_K", .q2_k)]
        let v = try FixtureSafetensors.read(Fixtures.quant("ggml-kquants.safetensors"))
        var b: [UInt8] = Array("GGUF".utf8)
        func str(_ s: String) { b.appendLE(UInt64(s.utf8.count)); b += Array(s.utf8) }
        b.appendLE(UInt32(3)); b.appendLE(UInt64(formats.count)); b.appendLE(UInt64(1))
        str("general.architecture"); b.appendLE(UInt32(8)); str("llama")
        var data: [UInt8] = []
        for (name, dtype) in formats {
            let bytes = try XCTUnwrap(v["\(name).bytes"]).bytes.array
            str(name); b.appendLE(UInt32(2)); b.appendLE(UInt64(256)); b.appendLE(UInt64(bytes.count / dtype.blockBytes))
            b.appendLE(try XCTUnwrap(dtype.traits.ggmlType)); b.appendLE(UInt64(data.count))
            data += bytes
            while data.count % 32 != 0 { data.append(0) }
        }
        while b.count % 32 != 0 { b.append(0) }
        let dir = TempDir()
        let g = try GGUFFile(MappedFile(path: dir.write("kquants.gguf", b + data)))
        for (name, dtype) in formats {
            let bytes = try XCTUnwrap(v["\(name).bytes"]).bytes.array
            let t = try XCTUnwrap(g.tensors.first { $0.name == name })
            XCTAssertEqual(t.dtype, dtype)
            XCTAssertEqual(t.shape, [bytes.count / dtype.blockBytes, 256])
            XCTAssertEqual(try t.load().array, bytes, name)
        }
    }
}
