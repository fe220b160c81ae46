/// How a model's tokenizer wants a conversation laid out, turned into prompt ids.
public enum ChatFormat: String, Sendable {
    /// Mistral v1 (SentencePiece without control tokens): `<s>[INST] prompt [/INST]` as text.
    case mistralV1 = "mistral-v1"
    /// Mistral v3 (SentencePiece) and tekken: `<s>` `[INST]` prompt `[/INST]` with control-token ids.
    case mistralControl = "mistral-v3"
    /// ChatML (`<|im_start|>role\n…<|im_end|>`), as SmolLM2's GGUF chat template says.
    case chatML = "chatml"

    /// The format that fits a tokenizer.
    public static func detect(_ tokenizer: any Tokenizer) -> ChatFormat? {
        switch tokenizer {
        case let sp as SentencePieceBPE:
            return sp.controlID("[INST]") != nil ? .mistralControl : .mistralV1
        case is Tekken:
            return .mistralControl
        case let bpe as ByteLevelBPE:
            return bpe.specialID("<|im_start|>") != nil ? .chatML : nil
        default:
            return nil
        }
    }

    /// The id that ends the assistant's turn: ChatML's `<|im_end|>` (not the GGUF's EOS), the
    /// tokenizer's EOS for Mistral's formats.
    public func endOfTurn(_ tokenizer: any Tokenizer) -> Int? {
        switch self {
        case .chatML: return (tokenizer as? ByteLevelBPE)?.specialID("<|im_end|>")
        case .mistralV1, .mistralControl: return tokenizer.eosID
        }
    }

    /// Prompt ids for one user turn (and an optional system prompt), ending where the
    /// assistant's answer starts.
    public func prompt(_ user: String, system: String?, tokenizer: any Tokenizer) -> [Int] {
        turn(user, system: system, first: true, tokenizer: tokenizer)
    }

    /// Prompt ids for a user turn of a conversation, ending where the assistant's answer
    /// starts. The first turn opens the conversation (BOS, the system prompt); a later turn
    /// follows the previous answer and its end-of-turn id (`endOfTurn`), so the ids of a whole
    /// conversation are the turns' ids and answers one after another.
    public func turn(_ user: String, system: String?, first: Bool, tokenizer: any Tokenizer) -> [Int] {
        switch self {
        case .chatML:
            let head: String
            if first {
                let sys = system ?? "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
                head = "<|im_start|>system\n\(sys)<|im_end|>\n"
            } else {
                head = "\n"   // after the previous answer's <|im_end|>
            }
            return tokenizer.encode("\(head)<|im_start|>user\n\(user)<|im_end|>\n<|im_start|>assistant\n")
        case .mistralV1:
            // mistral-common's v1: <s>[INST] u1 [/INST] a1</s>[INST] u2 [/INST]; the system
            // prompt goes before the first user message.
            let content = first ? system.map { "\($0)\n\n\(user)" } ?? user : user
            return (first ? tokenizer.bosID.map { [$0] } ?? [] : []) + tokenizer.encode("[INST] \(content) [/INST]")
        case .mistralControl:
            let content = first ? system.map { "\($0)\n\n\(user)" } ?? user : user
            var ids = first ? tokenizer.bosID.map { [$0] } ?? [] : []
            let (open, close): (Int?, Int?) = {
                if let sp = tokenizer as? SentencePieceBPE { return (sp.controlID("[INST]"), sp.controlID("[/INST]")) }
                return (3, 4)   // tekken's fixed special-token ids
            }()
            if let open { ids.append(open) }
            ids += tokenizer.encode(content)
            if let close { ids.append(close) }
            return ids
        }
    }
}

extension SentencePieceBPE {
    /// The id of a control piece such as `[INST]`.
    public func controlID(_ piece: String) -> Int? {
        pieces.indices.first { types[$0] == .control && pieces[$0] == piece }
    }
}

extension ByteLevelBPE {
    /// The id of a literal special token such as `<|im_start|>`.
    public func specialID(_ text: String) -> Int? { specials.first { $0.0 == text }?.1 }
}
