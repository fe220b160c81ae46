import ArgumentParser
import Inference
import Pipeline

/// How `generate` and `chat` run a model: the context, the activations, the KV cache and the
/// threads. Each command describes the context in its own words (`RuntimeHelp`), so the help text
/// is the command's own.
struct RuntimeOptions<Help: RuntimeHelp>: ParsableArguments {
    @Option(help: Help.context)
    var ctx: Int = 4096

    @Option(help: ActivationPrecision.help)
    var activations: ActivationPrecision = .q8

    @Option(name: .customLong("kv-cache"), help: Help.kvCache)
    var kvCache: KVPrecision = .f16

    @OptionGroup var threads: ThreadOptions

    /// The library's settings for `LoadedModel`.
    var settings: LoadedModel.Settings {
        LoadedModel.Settings(threads: threads.threads, quantizedActivations: activations == .q8, context: ctx, kvCache: kvCache)
    }
}

/// The help of `--ctx` and `--kv-cache` as a command that runs a model gives it.
protocol RuntimeHelp {
    static var context: ArgumentHelp { get }
    static var kvCache: ArgumentHelp { get }
}

extension KVPrecision: ExpressibleByArgument {}
