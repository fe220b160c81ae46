import ArgumentParser
import Foundation
import ModelFile
import Pipeline

extension Converter.TargetDType: ExpressibleByArgument {}
extension TMTCodec: ExpressibleByArgument {}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint to one .tmt file in Mistral's native layout (lossless by default).")

    @Argument(help: "A checkpoint file or folder (safetensors, sharded safetensors, PyTorch zip, GGUF, .tmt).")
    var source: String

    @Option(name: .shortAndLong, help: "The .tmt file to write (written to a temporary file, renamed when complete).")
    var output: String

    @OptionGroup var overwrite: OverwriteOptions

    @Option(help: "Element type of the output: keep, f32, f16 or bf16. f16 refuses values that would overflow.")
    var dtype: Converter.TargetDType = .keep

    @Option(help: "Codec: raw (mappable in place), zstd or shuffle-zstd (byte planes then zstd).")
    var codec: TMTCodec = .shuffleZstd

    @Option(help: "zstd compression level (1-19). 1 is the default: on float byte planes higher levels compress no better and run slower.")
    var level: Int32 = 1

    @Option(name: .customLong("chunk-mib"), help: "Chunk size in MiB (1-64).")
    var chunkMiB: Int = 4

    @OptionGroup var provenance: ProvenanceOptions

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    func validate() throws {
        guard (1...19).contains(level) else { throw ValidationError("--level must be 1…19") }
        guard (1...64).contains(chunkMiB) else { throw ValidationError("--chunk-mib must be 1…64") }
    }

    func run() throws {
        var options = Converter.Options()
        options.command = CommandLine.arguments
        options.dtype = dtype
        options.hashSources = provenance.hashSources
        options.hashCache = provenance.hashCache
        options.replacing = overwrite.force
        options.writer = TMTWriterOptions(codec: codec, level: level, chunkSize: chunkMiB << 20, threads: threads.threads)
        let report = try Converter.convert(source, to: output, options: options, progress: out.progress("convert"))
        if out.json { return try out.printJSON(report) }
        print("\(report.output): \(report.tensors) tensors, \(formatBytes(report.inputBytes)) → \(formatBytes(report.outputBytes)) (ratio \(String(format: "%.3f", report.ratio))) in \(String(format: "%.1f", report.seconds)) s, \(String(format: "%.0f", report.mbPerSecond)) MB/s")
    }
}
