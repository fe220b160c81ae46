/// Turns generated ids into text as they come, holding back an incomplete UTF-8 sequence
/// until the bytes that complete it arrive, so nothing prints as garbage.
public struct StreamDecoder {
    let tokenizer: any Tokenizer
    var pending: [UInt8] = []

    public init(_ tokenizer: any Tokenizer) { self.tokenizer = tokenizer }

    /// The text that `id` completes (possibly empty).
    public mutating func push(_ id: Int) -> String {
        pending += tokenizer.decodeBytes([id])
        // Find the longest prefix that ends on a UTF-8 boundary.
        var cut = pending.count
        var back = 0
        while back < 4 && back < pending.count {
            let b = pending[pending.count - 1 - back]
            if b & 0xC0 != 0x80 {
                let need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
                if need > back + 1 { cut = pending.count - 1 - back }
                break
            }
            back += 1
        }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeSubrange(0..<cut)
        return text
    }

    /// Whatever is still held back (invalid bytes become U+FFFD).
    public mutating func flush() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }
}
