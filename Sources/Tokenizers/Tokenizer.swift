/// Text ↔ token ids. Encoding gives no BOS/EOS; callers add them.
public protocol Tokenizer: Sendable {
    var vocabularySize: Int { get }
    var bosID: Int? { get }
    var eosID: Int? { get }
    /// Whether a prompt starts with BOS for this model (GGUF `tokenizer.ggml.add_bos_token`).
    var addsBOS: Bool { get }
    func encode(_ text: String) -> [Int]
    /// The bytes the ids stand for (possibly an incomplete UTF-8 sequence at the end).
    func decodeBytes(_ ids: [Int]) -> [UInt8]
}

extension Tokenizer {
    /// The text the ids stand for; invalid UTF-8 is repaired with U+FFFD.
    public func decode(_ ids: [Int]) -> String { String(decoding: decodeBytes(ids), as: UTF8.self) }
}

public enum TokenizerError: Error, CustomStringConvertible {
    case invalid(String)
    /// A field of a tokenizer file (`tekken.json`, `tokenizer.json`, GGUF `tokenizer.ggml.*`,
    /// `tokenizer.model`) holds a value that cannot be used, e.g. a token id out of range.
    case invalidField(file: String, field: String, problem: String)
    case unsupported(String)
    public var description: String {
        switch self {
        case .invalid(let s): return "invalid tokenizer: \(s)"
        case .invalidField(let file, let field, let problem): return "invalid tokenizer: \(file): \(field): \(problem)"
        case .unsupported(let s): return s
        }
    }
}
