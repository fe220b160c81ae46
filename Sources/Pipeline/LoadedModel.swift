import Checkpoints
import Inference
import TensorCore
import Tokenizers

/// A model file opened to run (`generate`, `chat`, `validate`, `imatrix`, `ladder`): its
/// weights as a `Transformer` set up as `Settings` asks, the tokenizer that travels with it,
/// and the ids that end an answer, all from one opening of the file.
public struct LoadedModel {
    /// How the model runs.
    public struct Settings: Sendable {
        public var threads: Int
        /// Q8 activations for the integer kernels (`--activations q8`); false: f32, exact.
        public var quantizedActivations: Bool
        /// The KV cache of a `generator`: capacity in tokens and precision.
        public var context: Int
        public var kvCache: KVPrecision

        public init(threads: Int = availableCores, quantizedActivations: Bool = true, context: Int = 4096, kvCache: KVPrecision = .f16) {
            self.threads = threads
            self.quantizedActivations = quantizedActivations
            self.context = context
            self.kvCache = kvCache
        }
    }

    public let checkpoint: Checkpoint
    public let transformer: Transformer
    public let settings: Settings

    public init(_ path: String, settings: Settings) throws {
        try self.init(try Checkpoint.open(path), settings: settings)
    }

    /// The same for a checkpoint the caller has opened (`imatrix` checks its output first).
    public init(_ checkpoint: Checkpoint, settings: Settings) throws {
        self.checkpoint = checkpoint
        transformer = try Validator.load(checkpoint, threads: settings.threads)
        transformer.quantizedActivations = settings.quantizedActivations
        self.settings = settings
    }

    /// The tokenizer that travels with the model (`TokenizerLoader.load`); an error says when
    /// there is none, or one of a kind Tramontane does not run.
    public func tokenizer() throws -> any Tokenizer { try TokenizerLoader.load(checkpoint) }

    /// The ids that end an answer: the model's EOS (a chat format adds its end of turn).
    public var stopTokens: Set<Int> { Set([transformer.config.eosTokenID].compactMap { $0 }) }

    /// A new conversation with the model: an empty KV cache of the settings' capacity and
    /// precision, stopping at `stopTokens` and `extraStops`.
    public func generator(sampler: Sampler, extraStops: Set<Int> = [], prefillChunk: Int = 512) -> Generator {
        Generator(model: transformer, cache: transformer.makeCache(capacity: settings.context, precision: settings.kvCache),
                  sampler: sampler, stopTokens: stopTokens.union(extraStops), prefillChunk: prefillChunk)
    }
}
