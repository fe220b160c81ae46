/// A text as Unicode scalars (what pre-tokenizers split) and UTF-8 bytes (what BPE merges),
/// with the byte offset of every scalar, so a piece found as a scalar range is one byte slice.
struct ScalarText {
    let scalars: [Unicode.Scalar]
    let bytes: [UInt8]
    private let offset: [Int]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        bytes = Array(text.utf8)
        var offset = [Int](repeating: 0, count: scalars.count + 1)
        for (i, u) in scalars.enumerated() { offset[i + 1] = offset[i] + UTF8.width(u) }
        self.offset = offset
    }

    /// The bytes of the scalars in `r`.
    func bytes(_ r: Range<Int>) -> ArraySlice<UInt8> { bytes[offset[r.lowerBound]..<offset[r.upperBound]] }
}
