import ArgumentParser

/// The root command only lists the subcommands; each lives in its own file.
@main
struct Tramontane: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tramontane",
        abstract: "Convert, quantize, validate and run Mistral-family models.",
        version: "0.1.0",
        subcommands: [Inspect.self, Convert.self, Imatrix.self, QuantizeTensors.self, Validate.self, Generate.self, Tokenize.self, Detokenize.self, Verify.self, Export.self])
}
