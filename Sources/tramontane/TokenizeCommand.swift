import ArgumentParser
import Foundation
import Pipeline
import TensorCore
import Tokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Turn text into token ids with a model's tokenizer.")

    @Argument(help: "A model file or folder carrying a tokenizer (GGUF, .tmt, checkpoint folder).")
    var source: String

    @Option(help: "The text.")
    var text: String?

    @Option(help: "A file holding the text.")
    var file: String?

    @Flag(help: "Prepend the BOS id.")
    var bos = false

    @Flag(help: "Append the EOS id.")
    var eos = false

    @OptionGroup var out: OutputOptions

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give exactly one of --text or --file") }
    }

    func run() throws {
        let tokenizer = try TokenizerLoader.load(path: source)
        let input = try text ?? TextFile.read(file ?? "")
        let start = Date()
        var ids = tokenizer.encode(input)
        let seconds = Date().timeIntervalSince(start)
        if bos, let b = tokenizer.bosID { ids.insert(b, at: 0) }
        if eos, let e = tokenizer.eosID { ids.append(e) }
        if out.json {
            return try out.printJSON(Result(ids: ids, seconds: seconds, mbPerSecond: Double(input.utf8.count) / 1e6 / max(seconds, 1e-9)))
        }
        print(ids.map(String.init).joined(separator: ","))
    }

    struct Result: Codable {
        var ids: [Int]
        /// Time spent encoding (not loading the tokenizer) and the text's MB per second.
        var seconds: Double
        var mbPerSecond: Double
        enum CodingKeys: String, CodingKey { case ids, seconds; case mbPerSecond = "mb_per_second" }
    }
}

struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Turn token ids back into text.")

    @Argument(help: "A model file or folder carrying a tokenizer.")
    var source: String

    @Option(help: "Token ids, comma-separated.")
    var ids: String

    @OptionGroup var out: OutputOptions

    func run() throws {
        let tokenizer = try TokenizerLoader.load(path: source)
        let list = try ids.split(separator: ",").map { s -> Int in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 0, v < tokenizer.vocabularySize else {
                throw ValidationError("--ids: \"\(s)\" is not a token id of this vocabulary (0..<\(tokenizer.vocabularySize))")
            }
            return v
        }
        let text = tokenizer.decode(list)
        if out.json { return try out.printJSON(["text": text]) }
        print(text)
    }
}
