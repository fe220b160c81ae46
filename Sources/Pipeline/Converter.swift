import Checkpoints
import Foundation
import ModelFile
import TensorCore

/// `tramontane convert`: any readable checkpoint → one `.tmt` in native layout, streamed tensor
/// by tensor (peak memory ≈ the largest tensor plus a few compressed chunks).
public struct Converter {
    public enum TargetDType: String, CaseIterable, Sendable { case keep, f32, f16, bf16 }

    public struct Options: Sendable {
        public var dtype: TargetDType = .keep
        public var writer = TMTWriterOptions()
        /// The command line, recorded in the provenance.
        public var command: [String] = []
        /// Record each source file's SHA-256 in the provenance (off: `"sha256": null`).
        public var hashSources = true
        /// Where source digests are remembered between runs (nil: hash every time).
        public var hashCache: HashCache?
        /// Replace an existing output file (`--force`); an input, a FIFO or a device never is.
        public var replacing = false
        public init() {}
    }

    public struct Report: Codable, Sendable {
        public var output: String
        public var tensors: Int
        public var inputBytes: Int
        public var decodedBytes: Int
        public var outputBytes: Int
        public var ratio: Double
        public var seconds: Double
        public var mbPerSecond: Double
        enum CodingKeys: String, CodingKey {
            case output, tensors, ratio, seconds
            case inputBytes = "input_bytes", decodedBytes = "decoded_bytes", outputBytes = "output_bytes"
            case mbPerSecond = "mb_per_second"
        }
    }

    public static let toolVersion = "0.1.0"

    public static func convert(_ source: String, to output: String, options: Options, progress: ProgressReporter = SilentProgress()) throws -> Report {
        let start = Date()
        let checkpoint = try Checkpoint.open(source)
        let target = try OutputTarget(output, inputs: checkpoint.inputs, replacing: options.replacing)
        let model = try checkpoint.native()
        let written = model.tensors.filter { model.aliases[$0.name] == nil }
        let inputBytes = written.reduce(0) { $0 + $1.byteCount }

        let metadata = OutputMetadata(checkpoint: checkpoint, model: model, command: options.command, hashSources: options.hashSources,
                                      hashCache: options.hashCache, writer: options.writer)
        let writer = try TMTWriter(target: target, options: options.writer)
        var decoded = 0
        do {
            for t in written {
                progress.update(done: decoded, total: inputBytes, label: t.name)
                let bytes = try t.load()
                let target: DType = options.dtype == .keep ? t.dtype : DType(rawValue: options.dtype.rawValue) ?? t.dtype
                let converted = try withExtendedLifetime(bytes) { try DTypeConversion.convert(t, bytes: bytes, to: target, threads: options.writer.threads) }
                try converted.withBytes { try writer.addTensor(name: t.name, dtype: target, shape: t.shape, bytes: $0) }
                bytes.dropPages()
                decoded += t.byteCount
            }
            try metadata.finish(writer, extra: ["dtype": .string(options.dtype.rawValue)])
        } catch {
            writer.abandon()
            throw error
        }
        progress.finish(label: "wrote \(output)")
        let seconds = Date().timeIntervalSince(start)
        let outBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        return Report(output: output, tensors: written.count, inputBytes: inputBytes, decodedBytes: decoded,
                      outputBytes: outBytes, ratio: inputBytes == 0 ? 1 : Double(outBytes) / Double(inputBytes),
                      seconds: seconds, mbPerSecond: Double(inputBytes) / 1e6 / max(seconds, 1e-9))
    }
}
