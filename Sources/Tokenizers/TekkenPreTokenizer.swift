/// The split of tekken's pattern (tekken_240911.json `config.pattern`),
///
///     [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+
///     |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*
///     |\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
///
/// hand-written over Unicode scalars with the regex's leftmost-alternative, greedy-with-
/// backtracking semantics, because Swift's Regex engine runs it at about 1 MB/s. It runs in
/// time linear in the text. `Tekken` refuses any other pattern.
struct TekkenPreTokenizer {
    static let pattern = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Per-scalar classes as bits.
    struct Class: OptionSet {
        let rawValue: UInt8
        static let upper = Class(rawValue: 1)     // Lu Lt Lm Lo M
        static let lower = Class(rawValue: 2)     // Ll Lm Lo M
        static let letter = Class(rawValue: 4)    // \p{L}
        static let number = Class(rawValue: 8)    // \p{N}
        static let space = Class(rawValue: 16)    // \s
        static let newline = Class(rawValue: 32)  // \r \n
    }

    static func classify(_ s: Unicode.Scalar) -> Class {
        if s.value < 0x80 {
            switch s.value {
            case 0x41...0x5A: return [.upper, .letter]
            case 0x61...0x7A: return [.lower, .letter]
            case 0x30...0x39: return .number
            case 0x0A, 0x0D: return [.space, .newline]
            case 0x09, 0x0B, 0x0C, 0x20: return .space
            default: return []
            }
        }
        var c: Class = s.properties.isWhitespace ? .space : []
        switch s.properties.generalCategory {
        case .uppercaseLetter, .titlecaseLetter: c.formUnion([.upper, .letter])
        case .lowercaseLetter: c.formUnion([.lower, .letter])
        case .modifierLetter, .otherLetter: c.formUnion([.upper, .lower, .letter])
        case .nonspacingMark, .spacingMark, .enclosingMark: c.formUnion([.upper, .lower])
        case .decimalNumber, .letterNumber, .otherNumber: c.insert(.number)
        default: break
        }
        return c
    }

    /// Ranges (in scalar offsets) of the pieces of `scalars`.
    static func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let k = scalars.map(classify)
        let n = k.count
        var out: [Range<Int>] = []
        var i = 0
        func run(_ from: Int, _ c: Class) -> Int { var j = from; while j < n && k[j].contains(c) { j += 1 }; return j }
        func isPrefix(_ j: Int) -> Bool { !k[j].contains(.newline) && !k[j].contains(.letter) && !k[j].contains(.number) }
        func isOther(_ j: Int) -> Bool { !k[j].contains(.space) && !k[j].contains(.letter) && !k[j].contains(.number) }
        // U* L+ from j, greedy with backtracking: the end, or nil.
        func upperThenLower(_ j: Int) -> Int? {
            let u = run(j, .upper)
            if u < n && k[u].contains(.lower) { return run(u, .lower) }
            var b = u - 1
            while b >= j {
                if k[b].contains(.lower) { return run(b, .lower) }
                b -= 1
            }
            return nil
        }
        // U+ L* from j.
        func upperPlusLower(_ j: Int) -> Int? {
            let u = run(j, .upper)
            return u > j ? run(u, .lower) : nil
        }
        while i < n {
            var end: Int?
            // Alternatives 1 and 2, each with the optional prefix first.
            for alt in [upperThenLower, upperPlusLower] where end == nil {
                if isPrefix(i), i + 1 < n, let e = alt(i + 1) { end = e } else if let e = alt(i) { end = e }
            }
            // \p{N}
            if end == nil, k[i].contains(.number) { end = i + 1 }
            // " ?[^\s\p{L}\p{N}]+[\r\n/]*"
            if end == nil {
                var j = i
                if scalars[j] == " ", j + 1 < n, isOther(j + 1) { j += 1 }
                if isOther(j) {
                    var e = j
                    while e < n && isOther(e) { e += 1 }
                    while e < n && (k[e].contains(.newline) || scalars[e] == "/") { e += 1 }
                    end = e
                }
            }
            // \s*[\r\n]+ | \s+(?!\S) | \s+
            if end == nil, k[i].contains(.space) {
                let e = run(i, .space)
                if let last = (i..<e).last(where: { k[$0].contains(.newline) }) {
                    end = last + 1
                } else if e == n || e - i == 1 {
                    end = e
                } else {
                    end = e - 1
                }
            }
            let stop = max(end ?? i + 1, i + 1)
            out.append(i..<stop)
            i = stop
        }
        return out
    }
}
