import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// Several matrices in one parallel region (`Quantize.matrices`) give exactly the bytes each
/// gets alone, whatever the thread count, and an error names the job's tensor and position.
final class MatrixJobTests: XCTestCase {
    struct Case { let rows: Int; let columns: Int; let dtype: DType; let imatrix: Bool }

    func testBatchEqualsOneByOne() throws {
        var rng = SeededRandom(seed: 4242)
        // SmolLM2-like widths (576: groups of 8 plus tail blocks), K-quant rows with tails, tiny ones.
        let cases = [Case(rows: 19, columns: 576, dtype: .q4_1, imatrix: false), Case(rows: 7, columns: 576, dtype: .q4_0, imatrix: true),
                     Case(rows: 33, columns: 256, dtype: .q8_0, imatrix: false), Case(rows: 5, columns: 576, dtype: .q4_k, imatrix: true),
                     Case(rows: 3, columns: 512, dtype: .q6_k, imatrix: false), Case(rows: 1, columns: 64, dtype: .q5_1, imatrix: false)]
        let data = cases.map { c in (0..<(c.rows * c.columns)).map { _ in Float.random(in: -1...1, using: &rng) * Float.random(in: 0.02...1, using: &rng) } }
        let importance = cases.map { c in c.imatrix ? (0..<c.columns).map { _ in Float.random(in: 0.1...4, using: &rng) } : nil }
        for mode in [Quantize.Mode.search, .reference] {
            // Alone, one thread.
            var alone: [[UInt8]] = []
            for (k, c) in cases.enumerated() {
                var out = [UInt8](repeating: 0, count: c.rows * (try c.dtype.rowBytes(c.columns)))
                try data[k].withUnsafeBufferPointer { x in
                    try out.withUnsafeMutableBytes { o in
                        if let w = importance[k], mode == .search {
                            try w.withUnsafeBufferPointer { try Quantize.matrix(x, columns: c.columns, dtype: c.dtype, mode: mode, weights: $0, threads: 1, into: o) }
                        } else {
                            try Quantize.matrix(x, columns: c.columns, dtype: c.dtype, mode: mode, weights: nil, threads: 1, into: o)
                        }
                    }
                }
                alone.append(out)
            }
            // Together, in one region, with 1, 2 and 3 threads (different task splits).
            for threads in [1, 2, 3] {
                let xs = data.map { d -> UnsafeMutableBufferPointer<Float> in let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: d.count); _ = p.initialize(from: d); return p }
                let ws = importance.map { w in w.map { w -> UnsafeMutableBufferPointer<Float> in let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: w.count); _ = p.initialize(from: w); return p } }
                let outs = alone.map { a -> UnsafeMutableRawBufferPointer in
                    let p = UnsafeMutableRawBufferPointer.allocate(byteCount: a.count, alignment: 64)
                    p.initializeMemory(as: UInt8.self, repeating: 0xAA)
                    return p
                }
                defer { xs.forEach { $0.deallocate() }; ws.forEach { $0?.deallocate() }; outs.forEach { $0.deallocate() } }
                let jobs = cases.indices.map { k in
                    MatrixJob(UnsafeBufferPointer(xs[k]), columns: cases[k].columns, dtype: cases[k].dtype,
                              weights: mode == .search ? ws[k].map { UnsafeBufferPointer($0) } : nil, into: outs[k], tensor: "t\(k)")
                }
                try Quantize.matrices(jobs, mode: mode, threads: threads)
                for k in cases.indices {
                    XCTAssertEqual(Array(outs[k]), alone[k], "\(mode), \(threads) threads: job \(k) (\(cases[k].dtype), \(cases[k].columns) columns)")
                }
            }
        }
    }

    func testErrorNamesTheJobAndPosition() throws {
        let n = 256
        let good = [Float](repeating: 0.5, count: 4 * n)
        var bad = good
        bad[2 * n + 9] = .nan
        var out1 = [UInt8](repeating: 0, count: 4 * (try DType.q4_0.rowBytes(n)))
        var out2 = out1
        try good.withUnsafeBufferPointer { g in
            try bad.withUnsafeBufferPointer { b in
                try out1.withUnsafeMutableBytes { o1 in
                    try out2.withUnsafeMutableBytes { o2 in
                        let jobs = [MatrixJob(g, columns: n, dtype: .q4_0, into: o1, tensor: "fine"),
                                    MatrixJob(b, columns: n, dtype: .q4_0, into: o2, tensor: "layers.3.attention.wq.weight", indexOffset: 1000)]
                        XCTAssertThrowsError(try Quantize.matrices(jobs, mode: .search, threads: 2)) { error in
                            guard case TensorError.nonFinite(let tensor, let index, _) = error else { return XCTFail("\(error)") }
                            XCTAssertEqual(tensor, "layers.3.attention.wq.weight")
                            XCTAssertEqual(index, 1000 + 2 * n + 9)
                        }
                        let short = [Float](repeating: 1, count: n - 1)
                        try short.withUnsafeBufferPointer { w in
                            XCTAssertThrowsError(try Quantize.matrices([MatrixJob(g, columns: n, dtype: .q4_0, weights: w, into: o1)], mode: .search, threads: 1)) { error in
                                guard case TensorError.invalidShape = error else { return XCTFail("\(error)") }
                            }
                        }
                    }
                }
            }
        }
    }
}
