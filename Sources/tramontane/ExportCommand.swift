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
            let report = try GGUFExport.export(model, to: output, options: options, progress: out.progress("export"))
            if out.json { return try out.printJSON(report) }
            // One line per kind of re-encoding (--json lists every tensor with its error).
            for (pair, group) in Dictionary(grouping: report.reencoded, by: { "\($0.from) → \($0.to)" }).sorted(by: { $0.key < $1.key }) {
                let names = group.prefix(4).map(\.tensor).joined(separator: ", ") + (group.count > 4 ? ", …" : "")
                let worst = group.map(\.rmse).max() ?? 0
                print("re-encoded \(group.count) tensor(s) \(pair) (rows end in tail blocks; \(String(format: "%.2f", group[0].bitsPerWeight)) bits/weight, RMSE up to \(String(format: "%.2e", worst))): \(names)")
            }
            print("\(report.output): \(report.tensors) tensors (\(report.copied) copied byte for byte, \(report.reencoded.count) re-encoded\(report.widened.isEmpty ? "" : ", \(report.widened.count) F16/BF16 vectors widened to F32")), \(formatBytes(report.outputBytes)), \(String(format: "%.3f", report.bitsPerWeight)) bits/weight, in \(String(format: "%.1f", report.seconds)) s")
        case .safetensors?, .mlx?:
            throw ExportError.notBuilt(resolvedTarget?.rawValue ?? "?")
        case nil:
            throw ValidationError("give --to gguf|safetensors|mlx")
        }
    }
}
