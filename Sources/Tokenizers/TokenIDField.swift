import TensorCore

/// Token ids read from a tokenizer file. Ids are 32-bit in every model and every table here, and
/// tables are sized by the largest id, so an id is checked against the vocabulary the file
/// actually lists before anything is allocated from it.
enum TokenIDField {
    /// `value` as an id in `0..<limit`, or an error naming `field` of `file` (`why` says where
    /// the limit comes from).
    static func id(_ value: JSONValue, file: String, field: String, below limit: Int, why: String? = nil) throws -> Int {
        guard let i = value.intValue, i >= 0, i < limit else {
            throw TokenizerError.invalidField(file: file, field: field,
                                              problem: "\(text(value)) is not a token id in 0..<\(limit)" + (why.map { " (\($0))" } ?? ""))
        }
        return i
    }

    /// A JSON value as it would be written, shortened for an error message.
    static func text(_ value: JSONValue) -> String {
        let s = String(decoding: JSONWriter.bytes(value), as: UTF8.self)
        return s.count > 60 ? s.prefix(57) + "…" : s
    }
}
