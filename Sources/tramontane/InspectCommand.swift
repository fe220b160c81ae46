import ArgumentParser
import Foundation
import Pipeline

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's format, layout, config and tensors (in native names).")

    @Argument(help: "A checkpoint file or folder: safetensors (single or sharded), PyTorch .bin/.pth, GGUF or .tmt.")
    var path: String

    @Flag(name: .long, help: "Add each tensor's SHA-256 over its values as little-endian float32.")
    var hash = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let report = try Inspector.inspect(path, hash: hash, progress: output.progress("inspect"))
        if output.json { return try output.printJSON(report) }
        print("\(report.path)")
        print("  format: \(report.format)   layout: \(report.layout)   architecture: \(report.architecture ?? "?")")
        if let c = report.config {
            print("  dim \(c.dim), layers \(c.nLayers), heads \(c.nHeads)/\(c.nKVHeads) kv, head_dim \(c.headDim), ffn \(c.hiddenDim), vocab \(c.vocabSize)")
            print("  rope_theta \(c.ropeTheta), norm_eps \(c.normEps), sliding_window \(c.slidingWindow.map(String.init) ?? "none"), tied embeddings \(c.tieEmbeddings)")
        }
        if let note = report.note { print("  note: \(note)") }
        let nameWidth = min(48, report.tensors.map(\.name.count).max() ?? 4)
        for r in report.tensors {
            var line = r.name.padding(toLength: max(nameWidth, r.name.count), withPad: " ", startingAt: 0)
            line += "  " + r.dtype.padding(toLength: 5, withPad: " ", startingAt: 0)
            line += "  " + "\(r.shape)".padding(toLength: 14, withPad: " ", startingAt: 0)
            line += "  " + formatBytes(r.bytes).padding(toLength: 11, withPad: " ", startingAt: 0)
            if let codec = r.codec, let ratio = r.ratio { line += "  \(codec) \(String(format: "%.3f", ratio))" }
            if let t = r.tiedTo { line += "  (tied to \(t))" }
            if let h = r.sha256 { line += "  \(h)" }
            print(line)
        }
        var totals = "  \(report.tensors.count) tensors, \(report.parameters) parameters, \(formatBytes(report.totalBytes))"
        if let s = report.storedBytes { totals += " (\(formatBytes(s)) stored)" }
        totals += String(format: ", %.3f bits per weight", report.bitsPerWeight)
        print(totals)
        if !report.dropped.isEmpty { print("  dropped: \(report.dropped.joined(separator: ", "))") }
        print("  tokenizer: \(report.tokenizer.isEmpty ? "none" : report.tokenizer.joined(separator: ", "))")
    }
}
