import ArgumentParser
import Foundation
import Pipeline

extension SafetensorsExport.Layout: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model (.tmt or any readable checkpoint) for other engines: safetensors for transformers, MLX for mlx-lm.")

    enum Target: String, ExpressibleByArgument, CaseIterable { case gguf, safetensors, mlx }
    enum ElementType: String, ExpressibleByArgument, CaseIterable { case bf16, f16, f32 }

    @Argument(help: "The model: a .tmt file or any checkpoint `convert` reads.")
    var source: String

    @Option(name: .shortAndLong, help: "The folder to write (written beside it under a temporary name, renamed when complete).")
    var output: String

    @Option(help: "What to write: safetensors (Hugging Face or Mistral native folder) or mlx (mlx-lm's quantized folder).")
    var to: Target

    @Option(help: "safetensors only: hf (transformers' names and rotary order, config.json) or native (consolidated.safetensors, params.json).")
    var layout: SafetensorsExport.Layout = .hf

    @Option(help: "Element type of float tensors: bf16, f16 or f32 (safetensors default bf16; mlx default f16, where ggml's f16 scales stay exact; mlx refuses bf16).")
    var dtype: ElementType?

    @Option(name: .customLong("shard-size"), help: "safetensors only: the largest shard (5GB, 500MB, 2GiB or bytes), as transformers' max_shard_size.")
    var shardSize: String = "5GB"

    @OptionGroup var overwrite: OverwriteOptions
    @OptionGroup var out: OutputOptions

    func validate() throws {
        if SafetensorsExport.parseSize(shardSize) == nil { throw ValidationError("--shard-size must be a positive size such as 5GB, 500MB, 2GiB or a byte count") }
        if to == .mlx && dtype == .bf16 {
            throw ValidationError("--to mlx --dtype bf16 is refused: ggml's f16 scales and biases are not exact in bf16; use f16 (default) or f32")
        }
    }

    func run() throws {
        let progress = TerminalProgress(title: "export", quiet: out.json)
        switch to {
        case .gguf:
            throw ValidationError("--to gguf is not in this branch")
        case .safetensors:
            var o = SafetensorsExport.Options()
            o.layout = layout
            o.dtype = SafetensorsExport.ElementType(rawValue: (dtype ?? .bf16).rawValue) ?? .bf16
            o.shardSize = SafetensorsExport.parseSize(shardSize) ?? o.shardSize
            o.replacing = overwrite.force
            let r = try SafetensorsExport.export(source, to: output, options: o, progress: progress)
            if out.json { return try out.printJSON(r) }
            print("\(r.output): \(r.tensors) tensors, \(r.layout) layout, \(r.dtype), \(formatBytes(r.bytes)) in \(r.files.count) files (\(r.copied) copied byte for byte, \(r.dequantized.count) dequantized) in \(String(format: "%.1f", r.seconds)) s")
            if !r.tokenizer.isEmpty { print("tokenizer: \(r.tokenizer.joined(separator: ", "))") }
        case .mlx:
            var o = MLXExport.Options()
            o.dtype = dtype == .f32 ? .f32 : .f16
            o.replacing = overwrite.force
            let r = try MLXExport.export(source, to: output, options: o, progress: progress)
            if out.json { return try out.printJSON(r) }
            let exact = r.exact.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("\(r.output): MLX affine, group \(r.groupSize), \(r.bits) bits by default, \(r.dtype) scales; exact: \(exact.isEmpty ? "none" : exact); \(r.floats) float tensors; \(formatBytes(r.bytes)) in \(String(format: "%.1f", r.seconds)) s")
            if !r.requantized.isEmpty {
                print("requantized (no exact MLX form): \(r.requantized.count) tensors")
                for q in r.requantized { print("  \(q.tensor): \(q.from) → \(q.bits)-bit") }
            }
        }
    }
}
