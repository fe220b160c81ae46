import Foundation
import TensorCore
import TestSupport
import XCTest
@testable import Tokenizers

/// The heap merge (`PairMerge`) of each real tokenizer against the plain quadratic merge it
/// replaced (rescan every adjacent pair, join the best, repeat), on random and repetitive input;
/// and the work it does on 20 KB of one letter, which must stay linear in look-ups (the
/// quadratic merge made ~n²/2 of them).
final class PairMergeTests: XCTestCase {
    static let tekken = Result { try ByteRegion.mapping(Fixtures.tekken()).withBytes { try Tekken(json: $0) } }
    static let smol = Result {
        try ByteRegion.mapping(Fixtures.root.appendingPathComponent("tokenizers/smollm2-tokenizer.json").path)
            .withBytes { try ByteLevelBPE(huggingFaceJSON: $0) }
    }
    static let v1 = Result { try SentencePieceBPE(model: readBytes(Fixtures.root.appendingPathComponent("tokenizers/tokenizer.model.v1").path)) }

    // MARK: reference merges (what the tokenizers did before PairMerge)

    /// tiktoken's loop: join the leftmost adjacent pair whose bytes have the lowest rank.
    func referenceMerge(_ tok: Tekken, _ piece: [UInt8]) -> [Int32] {
        var parts: [[UInt8]] = piece.map { [$0] }
        while parts.count > 1 {
            var best: (rank: Int32, at: Int) = (.max, -1)
            for i in 0..<(parts.count - 1) {
                if let r = tok.rankOf[(parts[i] + parts[i + 1])[...]], r < best.rank { best = (r, i) }
            }
            guard best.at >= 0 else { break }
            parts[best.at] += parts[best.at + 1]
            parts.remove(at: best.at + 1)
        }
        return parts.map { tok.rankOf[$0[...]] ?? -1 }
    }

    /// GPT-2 / HF BPE: join the leftmost adjacent pair of lowest merge rank.
    func referenceMerge(_ tok: ByteLevelBPE, _ piece: [UInt8]) -> [Int] {
        var symbols = piece.map { tok.byteToken[Int($0)] >= 0 ? tok.byteToken[Int($0)] : tok.unknownID }.filter { $0 >= 0 }
        while symbols.count > 1 {
            var best: (rank: Int32, at: Int, id: Int32) = (.max, -1, -1)
            for i in 0..<(symbols.count - 1) {
                if let m = tok.merges[UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))], m.rank < best.rank {
                    best = (m.rank, i, m.id)
                }
            }
            guard best.at >= 0 else { break }
            symbols[best.at] = best.id
            symbols.remove(at: best.at + 1)
        }
        return symbols.map(Int.init)
    }

    /// sentencepiece: join the leftmost adjacent pair whose concatenation has the highest score
    /// (compared as floats, so the rank encoding is checked too). A character that is no piece
    /// never merges and becomes its bytes' <0xXX> pieces.
    func referenceEncode(_ tok: SentencePieceBPE, _ chars: [Unicode.Scalar]) -> [Int] {
        var symbols = chars.enumerated().map { (id: tok.scalarIDs[$1.value] ?? -1, char: $0) }
        while symbols.count > 1 {
            var best: (score: Float, at: Int, id: Int32)?
            for i in 0..<(symbols.count - 1) where symbols[i].id >= 0 && symbols[i + 1].id >= 0 {
                guard let m = tok.merges[UInt64(UInt32(symbols[i].id)) << 32 | UInt64(UInt32(symbols[i + 1].id))] else { continue }
                if best.map({ tok.scores[Int(m.id)] > $0.score }) ?? true { best = (tok.scores[Int(m.id)], i, m.id) }
            }
            guard let b = best else { break }
            symbols[b.at].id = b.id
            symbols.remove(at: b.at + 1)
        }
        XCTAssertTrue(tok.byteFallback)
        return symbols.flatMap { s in s.id >= 0 ? [Int(s.id)] : String(Character(chars[s.char])).utf8.map { tok.byteIDs[Int($0)] } }
    }

    // MARK: inputs

    /// Repetitive pieces (one unit repeated, up to 800 bytes) and random ones: over small alphabets
    /// (many ties and long merge chains), over all bytes, and runs of real tokens glued together.
    func inputs(tokens: [[UInt8]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for unit in ["a", "ab", "abc", "aab", " ", "\n", "🙂", "é", "0", "the", "ing ", "▁a"] {
            for k in [1, 2, 3, 5, 8, 64, 233, 700] where k * unit.utf8.count <= 800 {
                out.append(Array(String(repeating: unit, count: k).utf8))
            }
        }
        var rng = SeededRandom(seed: 0x7E4E)
        let alphabets: [[UInt8]] = [Array("ab".utf8), Array("abc ".utf8), Array("aeiou rstn".utf8), Array(0...255)]
        for i in 0..<100 {
            let n = Int.random(in: 1...300, using: &rng)
            if i % 5 == 4 {
                var piece: [UInt8] = []
                while piece.count < n { piece += tokens[Int.random(in: 0..<tokens.count, using: &rng)] }
                out.append(piece)
            } else {
                let a = alphabets[i % 4 == 3 ? 3 : i % 3]
                out.append((0..<n).map { _ in a[Int.random(in: 0..<a.count, using: &rng)] })
            }
        }
        return out
    }

    // MARK: the heap merge equals the reference

    /// Both ways PairMerge runs: the default (scan up to `scanLimit` symbols, heap beyond), the
    /// heap always, the scan always.
    static let limits = [PairMerge().scanLimit, 0, Int.max]

    func testTekkenHeapMergeEqualsReference() throws {
        let tok = try Self.tekken.get()
        for piece in inputs(tokens: Array(tok.bytesOf[256..<20000])) {
            let expected = referenceMerge(tok, piece)
            for limit in Self.limits {
                var merger = PairMerge()
                merger.scanLimit = limit
                var ids: [Int32] = []
                tok.merge(piece[...], using: &merger) { ids.append($0) }
                XCTAssertEqual(ids, expected, "\(piece.count) bytes, scan limit \(limit): \(piece.prefix(16))")
            }
        }
    }

    func testByteLevelHeapMergeEqualsReference() throws {
        let tok = try Self.smol.get()
        for piece in inputs(tokens: Array(tok.tokenBytes[256..<20000])) {
            let expected = referenceMerge(tok, piece)
            for limit in Self.limits {
                var merger = PairMerge()
                merger.scanLimit = limit
                XCTAssertEqual(tok.merge(piece[...], using: &merger), expected, "\(piece.count) bytes, scan limit \(limit): \(piece.prefix(16))")
            }
        }
    }

    func testSentencePieceHeapMergeEqualsReference() throws {
        let tok = try Self.v1.get()
        let words = tok.pieces.filter { !$0.hasPrefix("<") }.map { Array($0.utf8) }
        for piece in inputs(tokens: words) {
            // As code points: invalid UTF-8 from the random bytes becomes U+FFFD, which is no piece (−1).
            let chars = Array(String(decoding: piece, as: UTF8.self).unicodeScalars)
            let expected = referenceEncode(tok, chars)
            for limit in Self.limits {
                var merger = PairMerge()
                merger.scanLimit = limit
                var ids: [Int] = []
                tok.encode(chars[...], using: &merger, into: &ids)
                XCTAssertEqual(ids, expected, "\(chars.count) scalars, scan limit \(limit)")
            }
        }
    }

    // MARK: work on 20 KB of one letter

    /// n symbols: at most n − 1 merges, and every merge pushes at most two new pairs, so at most
    /// 3n look-ups and heap pops: O(n log n) with the heap (a piece this long never takes the scan).
    func assertLinearWork(_ m: PairMerge, symbols n: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(m.merges, n - 1, file: file, line: line)
        XCTAssertLessThanOrEqual(m.lookups, 3 * n, file: file, line: line)
        XCTAssertLessThanOrEqual(m.pops, m.lookups, file: file, line: line)
        XCTAssertGreaterThanOrEqual(m.merges, n / 2, "the letter does merge", file: file, line: line)
    }

    static let letters = String(repeating: "a", count: 20_000)

    func testTekkenLongPieceWorkIsLinear() throws {
        let tok = try Self.tekken.get()
        let t = ScalarText(Self.letters)
        let pieces = TekkenPreTokenizer.split(t.scalars)
        XCTAssertEqual(pieces, [0..<20_000], "one pre-token")
        var merger = PairMerge()
        var ids: [Int] = []
        tok.merge(t.bytes(pieces[0]), using: &merger) { ids.append(Int($0) + tok.specialCount) }
        assertLinearWork(merger, symbols: 20_000)
        XCTAssertEqual(tok.encode(Self.letters), ids)
        XCTAssertEqual(tok.decode(ids), Self.letters)
    }

    func testByteLevelLongPieceWorkIsLinear() throws {
        let tok = try Self.smol.get()
        let t = ScalarText(Self.letters)
        let pieces = tok.pre.ranges(t.scalars)
        XCTAssertEqual(pieces, [0..<20_000], "one pre-token")
        var merger = PairMerge()
        let ids = tok.merge(t.bytes(pieces[0]), using: &merger)
        assertLinearWork(merger, symbols: 20_000)
        XCTAssertEqual(tok.encode(Self.letters), ids)
        XCTAssertEqual(tok.decode(ids), Self.letters)
    }

    func testSentencePieceLongWordWorkIsLinear() throws {
        let tok = try Self.v1.get()
        let chars = tok.normalize(Self.letters)
        XCTAssertEqual(chars.count, 20_001, "one word: ▁ and the letters")
        var merger = PairMerge()
        var ids: [Int] = []
        tok.encode(chars[...], using: &merger, into: &ids)
        assertLinearWork(merger, symbols: 20_001)
        XCTAssertEqual(tok.encode(Self.letters), ids)
        XCTAssertEqual(tok.decode(ids), Self.letters)
    }
}
