import TensorCore

/// The numbers of a configuration file (config.json, params.json, GGUF metadata, a `.tmt`'s
/// config), read one key at a time and range-checked there: the error names the key as that
/// file spells it (`num_hidden_layers`, `llama.block_count`, `moe.num_experts`), with the value
/// found and the range allowed, before any number reaches an allocation, a `Range` or a product.
struct ConfigFields {
    let path: String
    /// The value of a key, or nil when absent.
    let lookup: (String) -> JSONValue?

    init(path: String, lookup: @escaping (String) -> JSONValue?) {
        self.path = path
        self.lookup = lookup
    }

    /// Keys of a JSON object; a dotted key (`moe.num_experts`) looks into nested objects.
    init(_ json: JSONValue, path: String) {
        self.init(path: path) { key in
            key.split(separator: ".").reduce(Optional(json)) { v, part in v?[String(part)] }
        }
    }

    private func bad(_ s: String) -> CheckpointError { .invalidConfig(path: path, detail: s) }

    /// An integer in `range`, or nil when the key is absent or null.
    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = lookup(key), !v.isNull else { return nil }
        guard let x = v.intValue else { throw bad("\(key) is \(Self.describe(v)), expected an integer") }
        guard range.contains(x) else { throw bad("\(key) = \(x) is out of range \(range.lowerBound)…\(range.upperBound)") }
        return x
    }

    /// An integer in `range` that must be present.
    func require(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let x = try int(key, in: range) else { throw bad("\(key) is missing or not an integer") }
        return x
    }

    /// A token id (`bos_token_id`, `tokenizer.ggml.eos_token_id`, …) of a vocabulary of
    /// `vocabulary` tokens, or nil when absent or null. `none` is a value meaning no token
    /// (`pad_token_id: -1`, as LLaMA-era config.json files write it). A list of ids (Llama 3's
    /// `eos_token_id: [128001, 128009]`) has each id checked and gives nil: the config holds
    /// one id per role.
    func tokenID(_ key: String, vocabulary: Int, none: Int? = nil) throws -> Int? {
        guard let v = lookup(key), !v.isNull else { return nil }
        func check(_ v: JSONValue, _ field: String) throws -> Int? {
            guard let x = v.intValue else { throw bad("\(field) is \(Self.describe(v)), expected a token id") }
            if let none, x == none { return nil }
            guard x >= 0, x < vocabulary else { throw bad("\(field) = \(x) is not a token id: the vocabulary has \(vocabulary) tokens (0…\(vocabulary - 1))") }
            return x
        }
        if let list = v.arrayValue {
            for (i, e) in list.enumerated() { _ = try check(e, "\(key)[\(i)]") }
            return nil
        }
        return try check(v, key)
    }

    /// A finite number above zero, or nil when absent or null.
    func positive(_ key: String) throws -> Double? {
        guard let v = lookup(key), !v.isNull else { return nil }
        guard let x = v.doubleValue, x.isFinite, x > 0 else { throw bad("\(key) is \(Self.describe(v)), expected a positive number") }
        return x
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .string(let s): return "\"\(s.prefix(40))\""
        case .bool(let b): return "\(b)"
        case .null: return "null"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension ModelConfig {
    /// Limits well above any published model, below what would overflow or allocate without
    /// bound: a width, head count or vocabulary up to 2^24, up to 2^16 layers and experts, 2^20
    /// experts in all.
    public enum Limits {
        public static let width = 1...(1 << 24)
        public static let layers = 1...(1 << 16)
        public static let experts = 1...(1 << 16)
        /// Layers × experts (the largest published models have about 16 000).
        public static let expertBlocks = 1 << 20
        public static let window = 1...Int(Int32.max)
    }
}
