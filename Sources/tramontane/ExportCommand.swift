import ArgumentParser
import Foundation
import Pipeline

/// The formats `export` writes; each is one library call.
enum ExportTarget: String, ExpressibleByArgument, CaseIterable {
    case gguf, safetensors, mlx
}

extension SafetensorsExport.Layout: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model to a format other programs run: GGUF (llama.cpp, Ollama, LM Studio), safetensors (transformers) or MLX (mlx-lm).")

    enum ElementType: String, ExpressibleByArgument, CaseIterable { case bf16, f16, f32 }

    @Argument(help: "A .tmt file, or any checkpoint Tramontane reads.")
    var model: String

    @Option(name: .shortAndLong, help: "The file (GGUF) or folder (safetensors, mlx) to write (written under a temporary name, renamed when complete).")
    var output: String

    @Option(name: .customLong("to"), help: "gguf, safetensors (Hugging Face or Mistral native folder) or mlx (mlx-lm's quantized folder); default: gguf for an output ending in .gguf.")
    var target: ExportTarget?

    @Flag(help: "GGUF: refuse tensors that cannot be copied byte for byte (rows ending in tail blocks) instead of re-encoding them.")
    var exact = false

    @Option(name: .customLong("context-length"), help: "GGUF llama.context_length (default: the source GGUF's, else 4096; a .tmt does not record it).")
    var contextLength: Int?

    @Option(help: "safetensors only: hf (transformers' names and rotary order, config.json) or native (consolidated.safetensors, params.json).")
    var layout: SafetensorsExport.Layout = .hf

    @Option(help: "safetensors and mlx: element type of float tensors, bf16, f16 or f32 (safetensors default bf16; mlx default f16, where ggml's f16 scales stay exact; mlx refuses bf16).")
    var dtype: ElementType?

    @Option(name: .customLong("shard-size"), help: "safetensors only: the largest shard (5GB, 500MB, 2GiB or bytes), as transformers' max_shard_size.")
    var shardSize: String = "5GB"

    @OptionGroup var overwrite: OverwriteOptions
    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    var resolvedTarget: ExportTarget? { target ?? (output.lowercased().hasSuffix(".gguf") ? .gguf : nil) }

    func validate() throws {
        guard let t = resolvedTarget else { throw ValidationError("give --to gguf|safetensors|mlx (only an output ending in .gguf implies one)") }
        if let contextLength, !(1...Int(Int32.max)).contains(contextLength) { throw ValidationError("--context-length must be positive") }
        if SafetensorsExport.parseSize(shardSize) == nil { throw ValidationError("--shard-size must be a positive size such as 5GB, 500MB, 2GiB or a byte count") }
        if t == .mlx && dtype == .bf16 {
            throw ValidationError("--to mlx --dtype bf16 is refused: ggml's f16 scales and biases are not exact in bf16; use f16 (default) or f32")
        }
        if t == .gguf && dtype != nil { throw ValidationError("--dtype is for safetensors and mlx; a GGUF export keeps every tensor's type") }
    }

    func run() throws {
        let progress = out.progress("export")
        switch resolvedTarget {
        case .gguf?:
            var options = GGUFExport.Options()
            options.exact = exact
            options.replacing = overwrite.force
            options.contextLength = contextLength
            options.command = CommandLine.arguments
            options.threads = threads.threads
            let report = try GGUFExport.export(model, to: output, options: options, progress: progress)
            if out.json { return try out.printJSON(report) }
            // One line per kind of re-encoding (--json lists every tensor with its error).
            for (pair, group) in Dictionary(grouping: report.reencoded, by: { "\($0.from) → \($0.to)" }).sorted(by: { $0.key < $1.key }) {
                let names = group.prefix(4).map(\.tensor).joined(separator: ", ") + (group.count > 4 ? ", …" : "")
                let worst = group.map(\.rmse).max() ?? 0
                print("re-encoded \(group.count) tensor(s) \(pair) (rows end in tail blocks; \(String(format: "%.2f", group[0].bitsPerWeight)) bits/weight, RMSE up to \(String(format: "%.2e", worst))): \(names)")
            }
            print("\(report.output): \(report.tensors) tensors (\(report.copied) copied byte for byte, \(report.reencoded.count) re-encoded\(report.widened.isEmpty ? "" : ", \(report.widened.count) F16/BF16 vectors widened to F32")), \(formatBytes(report.outputBytes)), \(String(format: "%.3f", report.bitsPerWeight)) bits/weight, in \(String(format: "%.1f", report.seconds)) s")
        case .safetensors?:
            var o = SafetensorsExport.Options()
            o.layout = layout
            o.dtype = SafetensorsExport.ElementType(rawValue: (dtype ?? .bf16).rawValue) ?? .bf16
            o.shardSize = SafetensorsExport.parseSize(shardSize) ?? o.shardSize
            o.replacing = overwrite.force
            let r = try SafetensorsExport.export(model, to: output, options: o, progress: progress)
            if out.json { return try out.printJSON(r) }
            print("\(r.output): \(r.tensors) tensors, \(r.layout) layout, \(r.dtype), \(formatBytes(r.bytes)) in \(r.files.count) files (\(r.copied) copied byte for byte, \(r.dequantized.count) dequantized) in \(String(format: "%.1f", r.seconds)) s")
            if !r.tokenizer.isEmpty { print("tokenizer: \(r.tokenizer.joined(separator: ", "))") }
        case .mlx?:
            var o = MLXExport.Options()
            o.dtype = dtype == .f32 ? .f32 : .f16
            o.replacing = overwrite.force
            let r = try MLXExport.export(model, to: output, options: o, progress: progress)
            if out.json { return try out.printJSON(r) }
            let exact = r.exact.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("\(r.output): MLX affine, group \(r.groupSize), \(r.bits) bits by default, \(r.dtype) scales; exact: \(exact.isEmpty ? "none" : exact); \(r.floats) float tensors; \(formatBytes(r.bytes)) in \(String(format: "%.1f", r.seconds)) s")
            if !r.requantized.isEmpty {
                print("requantized (no exact MLX form): \(r.requantized.count) tensors")
                for q in r.requantized { print("  \(q.tensor): \(q.from) → \(q.bits)-bit") }
            }
        case nil:
            throw ValidationError("give --to gguf|safetensors|mlx")
        }
    }
}
