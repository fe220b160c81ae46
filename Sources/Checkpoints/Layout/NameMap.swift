import Foundation
import TensorCore

/// A name map from `formats/names/*.json` (compiled in by the EmbedFormats plugin): source
/// patterns with `{N}` (layer) and `{E}` (expert) placeholders, their native names, which rows
/// to un-permute, and what to drop.
package struct NameMap: Sendable {
    package struct Rule: Sendable {
        package let source: String
        package let native: String
        /// Config field with the head count for undoing HF's rotary permutation, if any.
        package let unpermute: String?
        package let order: Int
    }

    package let layout: String
    package let rules: [Rule]
    package let drops: [String]
    /// `required.model` etc. from native.json.
    package let required: [String: [String]]
    private let ruleByKey: [String: Int]
    private let dropKeys: Set<String>
    /// native pattern key → rule order, for sorting.
    private let nativeOrder: [String: Int]

    package static func named(_ layout: String) throws -> NameMap {
        guard let text = EmbeddedFormats.files["\(layout).json"] else { throw CheckpointError.layout("no name map for layout \(layout)") }
        return try NameMap(json: JSONParser.parse(text))
    }

    init(json: JSONValue) throws {
        layout = json["layout"]?.stringValue ?? "?"
        var rules: [Rule] = []
        for (i, t) in (json["tensors"]?.arrayValue ?? []).enumerated() {
            guard let s = t["source"]?.stringValue, let n = t["native"]?.stringValue else { throw CheckpointError.layout("name map \(layout): rule \(i) lacks source or native") }
            rules.append(Rule(source: s, native: n, unpermute: t["unpermute"]?.stringValue, order: i))
        }
        self.rules = rules
        drops = (json["drop"]?.arrayValue ?? []).compactMap(\.stringValue)
        var required: [String: [String]] = [:]
        for (k, v) in json["required"]?.objectValue ?? [:] { required[k] = v.arrayValue?.compactMap(\.stringValue) ?? [] }
        self.required = required
        var byKey: [String: Int] = [:], order: [String: Int] = [:]
        for (i, r) in rules.enumerated() {
            byKey[NameMap.patternKey(r.source)] = i
            order[NameMap.patternKey(r.native)] = i
        }
        ruleByKey = byKey
        nativeOrder = order
        dropKeys = Set(drops.map(NameMap.patternKey))
    }

    /// `layers.{N}.attention.wq.weight` and `layers.12.attention.wq.weight` share the key
    /// `layers.#.attention.wq.weight`.
    /// (Scans the UTF-8 bytes once: splitting, mapping and joining Strings took a third of
    /// remapping a 272-tensor model.)
    static func patternKey(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var segment: [UInt8] = []
        func flush() {
            let placeholder = segment.first == UInt8(ascii: "{") && segment.last == UInt8(ascii: "}")
            let number = !segment.isEmpty && segment.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            if placeholder || number { out.append(UInt8(ascii: "#")) } else { out.append(contentsOf: segment) }
            segment.removeAll(keepingCapacity: true)
        }
        for c in s.utf8 {
            if c == UInt8(ascii: ".") { flush(); out.append(c) } else { segment.append(c) }
        }
        flush()
        return String(decoding: out, as: UTF8.self)
    }

    /// The numbers standing where a pattern has placeholders, by placeholder name.
    static func captures(pattern: String, name: String) -> [String: String] {
        var out: [String: String] = [:]
        for (p, n) in zip(pattern.split(separator: "."), name.split(separator: ".")) where p.first == "{" {
            out[String(p)] = String(n)
        }
        return out
    }

    /// The pattern with each placeholder segment (`{N}`, `{E}`) replaced by its value; every
    /// placeholder in `formats/names` is a whole dot-separated segment.
    static func fill(_ pattern: String, _ values: [String: String]) -> String {
        pattern.split(separator: ".", omittingEmptySubsequences: false).map { seg in
            seg.first == "{" ? values[String(seg)] ?? String(seg) : String(seg)
        }.joined(separator: ".")
    }

    package func isDropped(_ name: String) -> Bool { dropKeys.contains(NameMap.patternKey(name)) }

    /// The rule for a source name and the native name it maps to.
    package func map(_ name: String) -> (Rule, String)? {
        guard let i = ruleByKey[NameMap.patternKey(name)] else { return nil }
        let r = rules[i]
        return (r, NameMap.fill(r.native, NameMap.captures(pattern: r.source, name: name)))
    }

    /// The source name a native name maps from (the inverse of `map`, used by export): the rule
    /// whose native pattern the name fits, with its numbers filled into the source pattern.
    package func source(forNative name: String) -> (Rule, String)? {
        guard let i = nativeOrder[NameMap.patternKey(name)] else { return nil }
        let r = rules[i]
        return (r, NameMap.fill(r.source, NameMap.captures(pattern: r.native, name: name)))
    }

    /// Sort key of a native name: (layer or −1 before layers / Int.max after, rule order).
    package func sortKey(native name: String) -> (Int, Int, String) {
        let parts = name.split(separator: ".")
        let order = nativeOrder[NameMap.patternKey(name)] ?? Int.max
        if parts.first == "layers", parts.count > 1, let n = Int(parts[1]) { return (n, order, name) }
        if name.hasPrefix("tok_embeddings") { return (-1, order, name) }
        return (Int.max, order, name)
    }
}
