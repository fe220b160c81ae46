import TensorCore

/// The `tokenizer.ggml.*` keys of GGUF metadata that are indexed by token id, checked against
/// each other before a tokenizer is built from them or they are copied into an export, whatever
/// the tokenizer model (`gpt2`, `llama`, …): llama.cpp releases before its bounds checks read
/// `token_type[i]` and `scores[i]` for every `i` below the token count whatever the arrays hold.
/// - `tokenizer.ggml.tokens`: strings;
/// - `tokenizer.ggml.token_type`: one 32-bit integer per token (gguf-py writes int32);
/// - `tokenizer.ggml.scores`: one number per token;
/// - `tokenizer.ggml.merges`: strings;
/// - every `tokenizer.ggml.*_token_id` (bos, eos, unknown, padding, sep, cls, mask, eot, …): an
///   id of one of the tokens. llama.cpp warns and falls back to its default for an id out of
///   range; here it is an error naming the key, for the ids Tramontane never uses (padding, …)
///   as for those it does.
/// Without a tokens array (`tokenizer.ggml.model = none`) there is nothing to index: the arrays
/// indexed by token may not appear, and the ids are checked against the model's `vocab_size`
/// by the config reader instead.
package enum GGUFVocabularyFields {
    /// Checks the keys of `metadata` (an object of GGUF keys); returns the number of tokens, or
    /// nil when there is no tokens array.
    @discardableResult
    package static func check(_ metadata: JSONValue, file: String = "GGUF metadata") throws -> Int? {
        func bad(_ field: String, _ problem: String) -> TokenizerError { .invalidField(file: file, field: field, problem: problem) }
        func array(_ key: String) throws -> [JSONValue]? {
            guard let v = metadata[key] else { return nil }
            guard let a = v.arrayValue else { throw bad(key, "\(TokenIDField.text(v)) is not an array") }
            return a
        }
        func each(_ key: String, _ a: [JSONValue], is kind: String, _ ok: (JSONValue) -> Bool) throws {
            // A dropped entry would shift every later id.
            if let i = a.firstIndex(where: { !ok($0) }) { throw bad("\(key)[\(i)]", "\(TokenIDField.text(a[i])) is not \(kind)") }
        }
        let tokensKey = "tokenizer.ggml.tokens"
        let tokens = try array(tokensKey)
        if let tokens {
            try each(tokensKey, tokens, is: "a string") { $0.stringValue != nil }
            guard tokens.count <= Int(Int32.max) else { throw bad(tokensKey, "\(tokens.count) tokens: more than 32-bit ids can name") }
        }
        if let merges = try array("tokenizer.ggml.merges") {
            try each("tokenizer.ggml.merges", merges, is: "a string") { $0.stringValue != nil }
        }
        let perToken: [(key: String, kind: String, ok: (JSONValue) -> Bool)] = [
            ("tokenizer.ggml.token_type", "a 32-bit integer", { $0.intValue.map { Int32(exactly: $0) != nil } ?? false }),
            ("tokenizer.ggml.scores", "a number", { $0.doubleValue != nil }),
        ]
        for (key, kind, ok) in perToken {
            guard let a = try array(key) else { continue }
            guard let tokens else { throw bad(key, "given without \(tokensKey)") }
            guard a.count == tokens.count else { throw bad(key, "\(a.count) entries for \(tokens.count) tokens (\(tokensKey))") }
            try each(key, a, is: kind, ok)
        }
        if let tokens, let object = metadata.objectValue {
            for key in object.keys.sorted() where key.hasPrefix("tokenizer.ggml.") && key.hasSuffix("_token_id") {
                if let v = object[key] {
                    _ = try TokenIDField.id(v, file: file, field: key, below: tokens.count, why: "the vocabulary has \(tokens.count) tokens")
                }
            }
        }
        return tokens?.count
    }
}
