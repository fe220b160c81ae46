import Checkpoints
import Foundation
import TensorCore

/// llama.cpp's points for the ladder's plot: its own tools quantize the same source to the same
/// presets and measure each file's KL divergence against its own f32 base on the same text
/// (`llama-perplexity --kl-divergence-base` once, then `--kl-divergence` per file). The f32
/// base GGUF is made by `llama-quantize --allow-requantize … F32` (dequantizing), so the source
/// must be a GGUF: Tramontane writes no GGUF.
package enum LlamaCppLadder {
    package struct Row: Codable, Sendable {
        package var type: String
        /// The llama-quantize type it was made with ("Q4_K_M", "Q4_K_S --pure", …).
        package var llamaType: String
        package var file: String
        package var fileBytes: Int
        /// All tensor bytes × 8 over all weights, as for our rows.
        package var bitsPerWeight: Double
        package var meanKLD: Double
        package var quantizeSeconds: Double
        enum CodingKeys: String, CodingKey {
            case type, file
            case llamaType = "llama_type", fileBytes = "file_bytes", bitsPerWeight = "bits_per_weight", meanKLD = "mean_kld"
            case quantizeSeconds = "quantize_seconds"
        }
    }

    /// llama-quantize's arguments for one of our presets: the same name, except that a plain
    /// Q4_K file is llama.cpp's Q4_K_S mix with the mix turned off.
    static func llamaArguments(_ preset: String) -> [String] {
        preset == "q4_k" ? ["--pure", "Q4_K_S"] : [preset.uppercased()]
    }

    /// Refuses early what would fail late: a source that is not a GGUF, a missing tool.
    static func check(tools: String, source: String) throws -> (quantize: String, perplexity: String) {
        guard source.hasSuffix(".gguf") else { throw PipelineError.llamaCppNeedsGGUF(source) }
        let quantize = (tools as NSString).appendingPathComponent("llama-quantize")
        let perplexity = (tools as NSString).appendingPathComponent("llama-perplexity")
        for tool in [quantize, perplexity] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw PipelineError.llamaCppToolMissing(tool)
        }
        return (quantize, perplexity)
    }

    static func run(tools: String, source: String, presets: [String], evaluationText: String, ctx: Int, chunks: Int,
                           directory: String, threads: Int, steps: inout Ladder.Steps) throws -> [Row] {
        let (quantize, perplexity) = try check(tools: tools, source: source)
        let dir = (directory as NSString).appendingPathComponent("llama.cpp")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func path(_ n: String) -> String { (dir as NSString).appendingPathComponent(n) }

        let text = path("evaluation.txt")
        try Array(evaluationText.utf8).withUnsafeBytes { b in
            let out = try AtomicOutputFile(target: OutputTarget(text, replacing: true))
            try out.write(b)
            try out.commit()
        }
        let base = path("base-f32.gguf")
        _ = try Tool.run(quantize, ["--allow-requantize", source, base, "F32", String(threads)], log: path("base-f32.quantize.log"))
        let logits = path("base-f32.kld")
        let common = ["-f", text, "-c", String(ctx), "--chunks", String(chunks), "-t", String(threads)]
        _ = try Tool.run(perplexity, ["-m", base, "--kl-divergence-base", logits] + common, log: path("base-f32.perplexity.log"))
        steps.done("llama.cpp: f32 base \(base) and its logits over \(chunks) chunks of \(ctx)")

        var rows: [Row] = []
        for preset in presets {
            let file = path("\(preset).gguf")
            let args = llamaArguments(preset)
            let flags = args.dropLast(), type = args.last ?? preset
            let started = Date()
            let quantizeLog: String
            do {
                quantizeLog = try Tool.run(quantize, Array(flags) + [base, file, type, String(threads)], log: path("\(preset).quantize.log"))
            } catch {
                // A preset llama.cpp does not have is left off its series, not fatal.
                steps.done("llama.cpp: no \(preset) (\(error))")
                continue
            }
            let seconds = Date().timeIntervalSince(started)
            let log = try Tool.run(perplexity, ["-m", file, "--kl-divergence-base", logits, "--kl-divergence"] + common,
                                   log: path("\(preset).perplexity.log"))
            guard let kld = number(after: "Mean    KLD:", in: log) else { throw PipelineError.llamaCppOutput(path("\(preset).perplexity.log"), "Mean KLD") }
            // Counted as ours is (all tensor bytes over all weights) when our GGUF reader reads
            // the file; else llama-quantize's own figure ("quant size = … (N BPW)", 2 decimals).
            guard let bpw = bitsPerWeight(gguf: file) ?? number(before: " BPW)", in: quantizeLog) else {
                throw PipelineError.llamaCppOutput(path("\(preset).quantize.log"), "BPW")
            }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
            rows.append(Row(type: preset, llamaType: args.joined(separator: " "), file: file, fileBytes: bytes, bitsPerWeight: bpw,
                            meanKLD: kld, quantizeSeconds: seconds))
            steps.done(String(format: "llama.cpp %@ (%@): %.3f bits/weight, mean KLD %.4f", preset, args.joined(separator: " "), bpw, kld))
        }
        return rows
    }

    /// Tensor bytes × 8 / weights of a GGUF, nil if it cannot be read.
    static func bitsPerWeight(gguf path: String) -> Double? {
        guard let c = try? Checkpoint.open(path), !c.tensors.isEmpty else { return nil }
        let weights = c.tensors.reduce(0) { $0 + $1.elementCount }
        return weights == 0 ? nil : Double(c.tensors.reduce(0) { $0 + $1.byteCount } * 8) / Double(weights)
    }

    /// The number right after `marker` in `text` ("Mean    KLD:   0.055123 ±   0.0012").
    static func number(after marker: String, in text: String) -> Double? {
        guard let r = text.range(of: marker, options: .backwards) else { return nil }
        let rest = text[r.upperBound...].drop { $0 == " " }
        return Double(rest.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "e" })
    }

    /// The number right before `marker` ("file size   = 77.26 MiB (4.89 BPW)").
    static func number(before marker: String, in text: String) -> Double? {
        guard let r = text.range(of: marker, options: .backwards) else { return nil }
        let head = text[..<r.lowerBound]
        let digits = head.reversed().prefix { $0.isNumber || $0 == "." }
        return Double(String(digits.reversed()))
    }

    /// A tool run to its end with stdout and stderr in one log file; its text is returned.
    enum Tool {
        static func run(_ tool: String, _ args: [String], log: String) throws -> String {
            FileManager.default.createFile(atPath: log, contents: nil)
            guard let handle = FileHandle(forWritingAtPath: log) else { throw PipelineError.llamaCppOutput(log, "a writable log") }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
            p.standardOutput = handle
            p.standardError = handle
            p.standardInput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            try? handle.close()
            let text = (try? TextFile.read(log)) ?? ""
            guard p.terminationReason == .exit, p.terminationStatus == 0 else {
                throw PipelineError.llamaCppFailed(tool: (tool as NSString).lastPathComponent, status: p.terminationStatus, log: log)
            }
            return text
        }
    }
}
