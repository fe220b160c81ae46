/// Splits text the way GPT-2's byte-level pre-tokenizer regex does,
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
/// hand-written over Unicode scalars (no regex engine in the hot path). With `isolateDigits`
/// every \p{N} scalar is first split off on its own, as the SmolLM/StarCoder tokenizers do.
package struct GPT2PreTokenizer: Sendable {
    package var isolateDigits: Bool

    package init(isolateDigits: Bool) { self.isolateDigits = isolateDigits }

    enum Kind { case letter, number, space, other }

    @inline(__always) static func kind(_ s: Unicode.Scalar) -> Kind {
        if s.value < 0x80 {
            switch s.value {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        if s.properties.isWhitespace { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The pieces of `text`, as substrings.
    package func split(_ text: String) -> [Substring] {
        let scalars = Array(text.unicodeScalars)
        var indices = Array(text.unicodeScalars.indices)
        indices.append(text.unicodeScalars.endIndex)
        return ranges(scalars).map { Substring(text.unicodeScalars[indices[$0.lowerBound]..<indices[$0.upperBound]]) }
    }

    /// The pieces as ranges of scalar offsets.
    package func ranges(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let kinds = scalars.map(Self.kind)
        var pieces: [Range<Int>] = []
        func emit(_ a: Int, _ b: Int) { if b > a { pieces.append(a..<b) } }
        // Segments between isolated digits are scanned with the GPT-2 rules.
        var segStart = 0
        for i in 0..<scalars.count where isolateDigits && kinds[i] == .number {
            scan(scalars, kinds, segStart, i, emit)
            emit(i, i + 1)
            segStart = i + 1
        }
        scan(scalars, kinds, segStart, scalars.count, emit)
        return pieces
    }

    func scan(_ s: [Unicode.Scalar], _ k: [Kind], _ from: Int, _ to: Int, _ emit: (Int, Int) -> Void) {
        var i = from
        func run(_ start: Int, _ kind: Kind) -> Int {
            var j = start
            while j < to && k[j] == kind { j += 1 }
            return j
        }
        while i < to {
            // Contractions.
            if s[i] == "'" && i + 1 < to {
                let a = s[i + 1], b: Unicode.Scalar? = i + 2 < to ? s[i + 2] : nil
                if a == "s" || a == "t" || a == "m" || a == "d" { emit(i, i + 2); i += 2; continue }
                if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { emit(i, i + 3); i += 3; continue }
            }
            let kind = k[i]
            if kind != .space {
                let end = run(i, kind)
                emit(i, end)
                i = end
                continue
            }
            // A single space followed by a letter, number or other run joins that run.
            if s[i] == " " && i + 1 < to && k[i + 1] != .space {
                let end = run(i + 1, k[i + 1])
                emit(i, end)
                i = end
                continue
            }
            // Whitespace: the run, except a last character that is followed by non-space.
            let end = run(i, .space)
            if end == to {
                emit(i, end)
                i = end
            } else if end - i > 1 {
                emit(i, end - 1)
                i = end - 1
            } else {
                emit(i, end)
                i = end
            }
        }
    }
}
