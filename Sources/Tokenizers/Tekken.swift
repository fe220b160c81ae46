import Foundation
import TensorCore

/// Mistral's tekken tokenizer (`tekken.json`): tiktoken-style byte-level BPE over base64 token
/// bytes ranked by merge priority, split first by the regex in its config, with a block of
/// special tokens (ids 0 ..< num_special) before the vocabulary and the vocabulary cut to the
/// configured size.
public final class Tekken: Tokenizer, @unchecked Sendable {
    public let vocabularySize: Int
    public let bosID: Int? = 1
    public let eosID: Int? = 2
    public let addsBOS = true
    let specialCount: Int
    /// Token bytes → rank (its id after the special tokens); keys are slices of `bytesOf`.
    let rankOf: [ArraySlice<UInt8>: Int32]
    let bytesOf: [[UInt8]]
    let pattern: Regex<AnyRegexOutput>
    /// tekken's own pattern runs through the hand-written splitter.
    let knownPattern: Bool

    public init(json data: UnsafeRawBufferPointer) throws {
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch { throw TokenizerError.invalid("tekken.json: \(error)") }
        guard let config = root["config"], let vocab = root["vocab"]?.arrayValue, let pat = config["pattern"]?.stringValue else {
            throw TokenizerError.invalid("tekken.json lacks config.pattern or vocab")
        }
        let size = config["default_vocab_size"]?.intValue ?? vocab.count
        let special = config["default_num_special_tokens"]?.intValue ?? (root["special_tokens"]?.arrayValue?.count ?? 0)
        guard special >= 0, size > special else { throw TokenizerError.invalid("vocabulary size \(size) ≤ special tokens \(special)") }
        let inner = min(size - special, vocab.count)
        var rankOf: [ArraySlice<UInt8>: Int32] = [:]
        rankOf.reserveCapacity(inner)
        var bytesOf: [[UInt8]] = []
        bytesOf.reserveCapacity(inner)
        for (i, v) in vocab.prefix(inner).enumerated() {
            guard let b64 = v["token_bytes"]?.stringValue, let d = Data(base64Encoded: b64) else {
                throw TokenizerError.invalid("vocab entry \(i) has no base64 token_bytes")
            }
            let bytes = [UInt8](d)
            if rankOf[bytes[...]] == nil { rankOf[bytes[...]] = Int32(i) }
            bytesOf.append(bytes)
        }
        self.rankOf = rankOf
        self.bytesOf = bytesOf
        specialCount = special
        vocabularySize = special + inner
        knownPattern = pat == TekkenPreTokenizer.pattern
        do { pattern = try Regex(pat).matchingSemantics(.unicodeScalar) } catch {
            throw TokenizerError.invalid("tekken pattern does not compile: \(error)")
        }
    }

    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        var merger = PairMerge()
        func add(_ piece: ArraySlice<UInt8>) {
            if let r = rankOf[piece] { out.append(Int(r) + specialCount) } else { merge(piece, using: &merger) { out.append(Int($0) + specialCount) } }
        }
        if knownPattern {
            let t = ScalarText(text)
            var cache: [ArraySlice<UInt8>: [Int]] = [:]
            for r in TekkenPreTokenizer.split(t.scalars) {
                let piece = t.bytes(r)
                if let r = rankOf[piece] { out.append(Int(r) + specialCount); continue }
                if let hit = cache[piece] { out += hit; continue }
                var ids: [Int] = []
                merge(piece, using: &merger) { ids.append(Int($0) + specialCount) }
                cache[piece] = ids
                out += ids
            }
        } else {
            for m in text.matches(of: pattern) { add(Array(text[m.range].utf8)[...]) }
        }
        return out
    }

    /// The pieces the regex engine makes, for testing the hand-written splitter against it.
    func regexPieces(_ text: String) -> [String] { text.matches(of: pattern).map { String(text[$0.range]) } }
    func scannerPieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return TekkenPreTokenizer.split(scalars).map { r in var s = ""; s.unicodeScalars.append(contentsOf: scalars[r]); return s }
    }

    /// tiktoken's byte-pair merge: join the adjacent pair whose bytes have the lowest rank, the
    /// rank being the id of the joined token (`PairMerge`). Starts from single bytes; a byte
    /// without a rank of its own stays rank 0, as before.
    func merge(_ piece: ArraySlice<UInt8>, using merger: inout PairMerge, _ emit: (Int32) -> Void) {
        merger.load()
        for b in piece { merger.append(rankOf[[b][...]] ?? 0) }
        let base = piece.startIndex
        merger.run { _, _, left, end in
            guard let r = rankOf[piece[(base + left)..<(base + end)]] else { return nil }
            return (UInt32(bitPattern: r), r)
        }
        merger.forEachSymbol { _, id in emit(id) }
    }

    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids where id >= specialCount && id - specialCount < bytesOf.count { out += bytesOf[id - specialCount] }
        return out
    }
}
