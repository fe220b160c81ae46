import Checkpoints
import Foundation
import ModelFile
import TensorCore

/// `tramontane convert`: any readable checkpoint → one `.tmt` in native layout, each tensor's
/// bytes copied or its values re-encoded in a float type (`TensorEngine`: in slices, so memory
/// stays at a few buffers whatever the tensor's size).
public struct Converter {
    public enum TargetDType: String, CaseIterable, Sendable {
        case keep, f32, f16, bf16

        /// The type every tensor becomes (nil: each keeps its own).
        var type: DType? {
            switch self {
            case .keep: return nil
            case .f32: return .f32
            case .f16: return .f16
            case .bf16: return .bf16
            }
        }
    }

    public struct Options: Sendable {
        public var dtype: TargetDType = .keep
        public var writer = TMTWriterOptions()
        /// The command line, recorded in the provenance.
        public var command: [String] = []
        /// Record each source file's SHA-256 in the provenance (off: `"sha256": null`).
        public var hashSources = true
        /// Where source digests are remembered between runs (nil: hash every time).
        package var hashCache: HashCache?
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
        try model.checkAgainstConfig()
        let written = model.tensors.filter { model.aliases[$0.name] == nil }
        let inputBytes = written.reduce(0) { $0 + $1.byteCount }
        let steps = written.map { t -> TensorEngine.Step in
            guard let target = options.dtype.type, target != t.dtype else { return TensorEngine.Step(tensor: t, encoding: .copy) }
            return TensorEngine.Step(tensor: t, encoding: .encode(target))
        }
        let metadata = OutputMetadata(checkpoint: checkpoint, model: model, command: options.command, hashSources: options.hashSources,
                                      hashCache: options.hashCache, writer: options.writer)
        let writer = try TMTWriter(target: target, options: options.writer)
        do {
            _ = try TensorEngine(threads: options.writer.threads).run(steps, writer: writer, metadata: metadata, progress: progress)
            try metadata.finish(writer, extra: ["dtype": .string(options.dtype.rawValue)])
        } catch {
            writer.abandon()
            throw error
        }
        progress.finish(label: "wrote \(output)")
        let seconds = Date().timeIntervalSince(start)
        let outBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        return Report(output: output, tensors: written.count, inputBytes: inputBytes, decodedBytes: inputBytes,
                      outputBytes: outBytes, ratio: inputBytes == 0 ? 1 : Double(outBytes) / Double(inputBytes),
                      seconds: seconds, mbPerSecond: Double(inputBytes) / 1e6 / max(seconds, 1e-9))
    }
}
