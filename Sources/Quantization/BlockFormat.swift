import TensorCore

/// One block format: a fixed number of weights packed into a fixed number of bytes, with
/// everything the package does with it — decode, quantize (search and reference), the dot
/// products the engine runs, how the engine holds a matrix of it. Each format is one type in
/// `Formats/`, its storage facts are its row of `DType.traits`, and `BlockFormats` lists them:
/// adding a format touches those three places and its tests. Sendable: the formats are
/// caseless enums, whose metatypes every quantizing thread uses.
package protocol BlockFormat: Sendable {
    static var dtype: DType { get }
    /// The block's size as its layout adds up, field by field (written beside the layout in the
    /// format's file); `BlockFormatsTests` holds it equal to `dtype.blockBytes`.
    static var layoutBytes: Int { get }
    /// Decodes one block (`dtype.blockBytes` bytes) into `dtype.blockSize` floats.
    static func dequantize(block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>)
    /// The error-minimising quantizer: levels and scales chosen by least-squares search,
    /// weighting each weight's squared error by `weights` (an importance matrix row) if given.
    static func quantize(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer)
    /// ggml's reference quantizer (`quantize_row_*_ref`), bit for bit where the format has one.
    static func quantizeReference(_ x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer)
    /// Σ w·x for one stored row of `n` weights (tail blocks included) against f32 `x`. The
    /// default decodes the row into `scratch` (n floats) and runs the f32 kernel.
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, scratch: UnsafeMutablePointer<Float>) -> Float
    /// The integer kernel against Q8-quantized activations, if the format has one (default nil).
    static var q8Dot: Q8RowDot? { get }
    /// Every integer kernel this build has for the format, `q8Dot`'s choice among them, for the
    /// tests to run each (default: `q8Dot` alone).
    static var q8Kernels: [Q8RowDot] { get }
    /// How the engine holds a matrix of this format (default: in the mapped file).
    static var residency: MatrixResidency { get }
}

/// Σ w·x of one stored row against a Q8 activation (the row's bytes, the activation's view) → the
/// dot product.
package typealias Q8RowDot = (UnsafeRawPointer, Q8Row) -> Float

/// Where the engine keeps a weight matrix's bytes while it runs.
package enum MatrixResidency: Sendable {
    /// A view into the mapped file (the kernel can page a large model).
    case mapped
    /// Copied into huge pages (streamed every token: 4 KiB pages cost TLB misses), the mapped
    /// file's pages dropped.
    case hugePageCopy
    /// Repacked for the row-per-lane kernel (`PackedQ4_0`) when the shape allows, else mapped.
    case repackedQ4_0
}

extension BlockFormat {
    package static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, scratch: UnsafeMutablePointer<Float>) -> Float {
        decodeRow(row, n, into: scratch)
        return RowDot.f32(UnsafeRawPointer(scratch), x, n)
    }

    package static var q8Dot: Q8RowDot? { nil }
    package static var q8Kernels: [Q8RowDot] { q8Dot.map { [$0] } ?? [] }
    package static var residency: MatrixResidency { .mapped }

    /// Decodes one row of `n` weights: whole blocks, then the tail format's blocks (`n` must be
    /// a valid row length for the format: `dtype.rowBytes(n)` does not throw).
    package static func decodeRow(_ row: UnsafeRawPointer, _ n: Int, into out: UnsafeMutablePointer<Float>) {
        let traits = dtype.traits
        var p = row, y = out
        let main = n / traits.blockSize
        for _ in 0..<main {
            dequantize(block: p, into: y)
            p += traits.blockBytes
            y += traits.blockSize
        }
        let rest = n - main * traits.blockSize
        guard rest > 0, let tail = traits.tailType.flatMap(BlockFormats.format) else { return }
        let t = tail.dtype.traits
        for _ in 0..<(rest / t.blockSize) {
            tail.dequantize(block: p, into: y)
            p += t.blockBytes
            y += t.blockSize
        }
    }
}

/// A format whose search runs on 8 consecutive blocks at once (`ScaleSearch8`).
package protocol EightBlockSearch: BlockFormat {
    /// The search of `quantize` for 8 consecutive blocks, each weight's error weighed by
    /// `importance` (from the first of these columns on).
    static func quantize8(_ x: UnsafePointer<Float>, importance: RowImportance, into blocks: UnsafeMutableRawPointer)
}

extension BlockFormat {
    /// Squared error of a quantized block against `x`, weighted.
    static func blockError(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, block: UnsafeRawPointer) -> Float {
        let n = dtype.blockSize
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { y in
            dequantize(block: block, into: y.baseAddress!)
            // 8 lanes at a time (every block size is a multiple of 8).
            var e = SIMD8<Float>()
            for k in stride(from: 0, to: n, by: 8) {
                let d = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self) - UnsafeRawPointer(y.baseAddress! + k).loadUnaligned(as: SIMD8<Float>.self)
                let w = weights.map { UnsafeRawPointer($0 + k).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8(repeating: 1)
                e += w * d * d
            }
            return e.total
        }
    }

    /// Runs the search quantizer and the reference and keeps whichever block has the lower
    /// weighted error, so the default mode is never worse than ggml's on any block.
    static func quantizeBest(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>?, into block: UnsafeMutableRawPointer,
                             search: (UnsafeMutableRawPointer) -> Void) {
        let bytes = dtype.blockBytes
        withUnsafeTemporaryAllocation(byteCount: bytes * 2, alignment: 16) { tmp in
            let a = tmp.baseAddress!, b = a + bytes
            search(a)
            quantizeReference(x, into: b)
            let ea = blockError(x, weights: weights, block: a), eb = blockError(x, weights: weights, block: b)
            block.copyMemory(from: ea <= eb ? a : b, byteCount: bytes)
        }
    }
}

@inline(__always)
func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

@inline(__always)
func storeHalf(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: Float) {
    p.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self)
}

