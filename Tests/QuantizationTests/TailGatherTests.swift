import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// Rows ending in fewer than 8 blocks: their last blocks are searched eight at a time across
/// rows. Each must come out exactly as if searched alone in an 8-block group (lanes never
/// mix), whatever the thread count and so the task split, with its own row's s2 and
/// importance columns.
final class TailGatherTests: XCTestCase {
    func testTailBlocksEqualTheirOwnSearch() throws {
        var rng = SeededRandom(seed: 77)
        let columns = 32 * 8 + 32 * 3, rows = 37     // one 8-block group and three tail blocks per row
        let x = (0..<(rows * columns)).map { _ in Float.random(in: -1...1, using: &rng) * Float.random(in: 0.05...1, using: &rng) }
        let imatrix = (0..<columns).map { _ in Float.random(in: 0.1...3, using: &rng) }
        for dtype in [DType.q4_0, .q4_1, .q8_0] {
            for imp in [nil, imatrix] {
                let f = try XCTUnwrap(Quantize.format(dtype) as? any EightBlockSearch.Type)
                let rowBytes = try dtype.rowBytes(columns)
                var outputs: [[UInt8]] = []
                for threads in [1, 2, 3] {
                    var out = [UInt8](repeating: 0, count: rows * rowBytes)
                    try x.withUnsafeBufferPointer { xb in
                        try out.withUnsafeMutableBytes { o in
                            if let imp {
                                try imp.withUnsafeBufferPointer { try Quantize.matrix(xb, columns: columns, dtype: dtype, mode: .search, weights: $0, threads: threads, into: o) }
                            } else {
                                try Quantize.matrix(xb, columns: columns, dtype: dtype, mode: .search, weights: nil, threads: threads, into: o)
                            }
                        }
                    }
                    outputs.append(out)
                }
                XCTAssertEqual(outputs[0], outputs[1], "\(dtype): 1 vs 2 threads")
                XCTAssertEqual(outputs[0], outputs[2], "\(dtype): 1 vs 3 threads")
                // Each tail block against a group of its own: the block in lane 0, zeros after.
                let n = dtype.blockSize, bytes = dtype.blockBytes
                var mismatches = 0
                for r in 0..<rows {
                    let row = Array(x[(r * columns)..<((r + 1) * columns)])
                    let importance = try row.withUnsafeBufferPointer { try Quantize.rowImportance($0.baseAddress!, columns, columns: nil) }
                    for t in 0..<3 {
                        let start = 256 + n * t
                        var group = [Float](repeating: 0, count: 8 * n)
                        group.replaceSubrange(0..<n, with: row[start..<(start + n)])
                        var cols = [Float](repeating: 1, count: 8 * n)
                        if let imp { cols.replaceSubrange(0..<n, with: imp[start..<(start + n)]) }
                        var lanes = SIMD8<Float>(); lanes[0] = importance.s2[0]
                        var alone = [UInt8](repeating: 0, count: 8 * bytes)
                        group.withUnsafeBufferPointer { g in
                            cols.withUnsafeBufferPointer { c in
                                alone.withUnsafeMutableBytes {
                                    f.quantize8(g.baseAddress!, importance: RowImportance(laneS2: lanes, columns: imp == nil ? nil : c.baseAddress!), into: $0.baseAddress!)
                                }
                            }
                        }
                        let at = r * rowBytes + (8 + t) * bytes
                        if Array(outputs[0][at..<(at + bytes)]) != Array(alone[0..<bytes]) { mismatches += 1 }
                    }
                }
                XCTAssertEqual(mismatches, 0, "\(dtype) imatrix \(imp != nil): tail blocks differing from their own search")
            }
        }
    }
}
