import ArgumentParser
import Foundation
import Pipeline
import TensorCore
import Tokenizers

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the result as JSON on stdout.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print no progress on stderr (errors still go there).")
    var quiet = false

    /// The progress reporter of a step called `title`: a bar on a terminal, one line when the
    /// step ends otherwise; none with --quiet, and none with --json unless stderr is a terminal.
    func progress(_ title: String) -> TerminalProgress {
        TerminalProgress(title: title, enabled: !quiet && (!json || TerminalProgress.stderrIsTerminal))
    }

    /// Prints `value` as pretty JSON on stdout.
    func printJSON<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try e.encode(value))
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}

/// `--force` of every command that writes a file.
struct OverwriteOptions: ParsableArguments {
    @Flag(name: .long, help: "Replace the output file if it exists (never an input of the command, a FIFO or a device).")
    var force = false
}

struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int = availableCores

    func validate() throws {
        guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads must be between 1 and 1024") }
    }
}

/// Human-readable byte counts.
func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.2f %@", v, units[u])
}

/// The text a model is run over (validate, imatrix): a text file, token ids, or the
/// evaluation text shipped with the tool; cut into chunks of `ctx` tokens.
struct EvaluationTokens: ParsableArguments {
    @Option(help: "A text file (tokenized with the model's tokenizer). Default: the text shipped with the tool (formats/eval).")
    var text: String?

    @Option(help: "Token ids instead of text (integers separated by commas, spaces or newlines).")
    var tokens: String?

    @Option(help: "Tokens per chunk (as llama-perplexity's -c).")
    var ctx: Int = 512

    @Option(help: "Number of chunks (default: as many as the tokens fill).")
    var chunks: Int?

    func validate() throws {
        if text != nil && tokens != nil { throw ValidationError("give --text or --tokens, not both") }
        guard ctx >= 8 else { throw ValidationError("--ctx must be at least 8") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be positive") }
    }

    /// The ids, and a description of where they came from, tokenized with the tokenizer of the
    /// model file at `path`.
    func load(tokenizerOf path: String) throws -> (ids: [Int], source: String) {
        try load(tokenizer: { try TokenizerLoader.load(path: path) })
    }

    /// The same with the model's tokenizer from `makeTokenizer`, asked for only when there is
    /// text to tokenize.
    func load(tokenizer makeTokenizer: () throws -> any Tokenizer) throws -> (ids: [Int], source: String) {
        if let tokens { return (try Validator.readTokenFile(tokens), tokens) }
        let tokenizer = try makeTokenizer()
        let body = try text.map { try TextFile.read($0) } ?? TokenizerLoader.defaultEvaluationText
        return (tokenizer.encode(body), text ?? "default evaluation text")
    }
}

/// `--activations` of `generate` and `validate`.
enum ActivationPrecision: String, ExpressibleByArgument, CaseIterable {
    case q8, f32
    static let help: ArgumentHelp = "Activations for block-format weights: q8 (quantized per 32 values for the integer kernels — decoding, and Q4_0 prompts — as llama.cpp does) or f32 (exact, slower)."
}

/// `--no-source-hash` of `convert` and `quantize`.
struct ProvenanceOptions: ParsableArguments {
    @Flag(name: .customLong("no-source-hash"), help: "Do not hash the source files for the provenance (their sha256 is recorded as null; saves about 1 s of one core per 2 GB).")
    var noSourceHash = false

    var hashSources: Bool { !noSourceHash }
    /// Digests are remembered by file identity between runs (`HashCache.standard`).
    var hashCache: HashCache? { HashCache.standard(environment: ProcessInfo.processInfo.environment) }
}
