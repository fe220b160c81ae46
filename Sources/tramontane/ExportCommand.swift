import ArgumentParser
import Foundation
import Pipeline

/// The formats `export` writes; each is one library call.
enum ExportTarget: String, ExpressibleByArgument, CaseIterable {
    case gguf, safetensors, mlx
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model to a format other programs run: GGUF (llama.cpp, Ollama, LM Studio), safetensors (transformers) or MLX.")

    @Argument(help: "A .tmt file, or any checkpoint Tramontane reads.")
    var model: String

    @Option(name: .shortAndLong, help: "The file (GGUF) or folder to write (written to a temporary, renamed when complete).")
    var output: String

    @Option(name: .customLong("to"), help: "gguf, safetensors or mlx (default: gguf for an output ending in .gguf).")
    var target: ExportTarget?

    @Flag(help: "Refuse tensors that cannot be copied byte for byte (GGUF: rows ending in tail blocks) instead of re-encoding them.")
    var exact = false

    @Option(name: .customLong("context-length"), help: "GGUF llama.context_length (default: the source GGUF's, else 4096; a .tmt does not record it).")
    var contextLength: Int?

    @OptionGroup var overwrite: OverwriteOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    var resolvedTarget: ExportTarget? { target ?? (output.lowercased().hasSuffix(".gguf") ? .gguf : nil) }

    func validate() throws {
        guard resolvedTarget != nil else { throw ValidationError("give --to gguf|safetensors|mlx (only an output ending in .gguf implies one)") }
        if let contextLength, !(1...Int(Int32.max)).contains(contextLength) { throw ValidationError("--context-length must be positive") }
    }

    func run() throws {
        switch resolvedTarget {
        case .gguf?:
            var options = GGUFExport.Options()
            options.exact = exact
            options.replacing = overwrite.force
            options.contextLength = contextLength
            options.command = CommandLine.arguments
            options.threads = threads.threads
            let report = try GGUFExport.export(model, to: output, options: options, progress: TerminalProgress(title: "export", quiet: out.json))
            if out.json { return try out.printJSON(report) }
            for r in report.reencoded {
                print("re-encoded \(r.tensor): \(r.from) (rows end in tail blocks) → \(r.to), \(String(format: "%.3f", r.bitsPerWeight)) bits/weight, RMSE \(String(format: "%.3e", r.rmse))")
            }
            print("\(report.output): \(report.tensors) tensors (\(report.copied) copied byte for byte, \(report.reencoded.count) re-encoded), \(formatBytes(report.outputBytes)), \(String(format: "%.3f", report.bitsPerWeight)) bits/weight, in \(String(format: "%.1f", report.seconds)) s")
        case .safetensors?, .mlx?:
            throw ExportError.notBuilt(resolvedTarget?.rawValue ?? "?")
        case nil:
            throw ValidationError("give --to gguf|safetensors|mlx")
        }
    }
}
