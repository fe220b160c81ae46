import Foundation
import PackagePlugin

/// Compiles data from `formats/` into a target as string constants — the name maps
/// (`formats/names/*.json`) into Checkpoints, the default evaluation text (`formats/eval/*.txt`)
/// into Pipeline — so the data stays files that people read and edit, and the `tramontane`
/// binary still needs nothing beside it.
@main
struct EmbedFormats: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        // Checkpoints gets the name maps; Pipeline gets the default evaluation text.
        let (folder, ext) = target.name == "Pipeline" ? ("eval", "txt") : ("names", "json")
        let dir = context.package.directoryURL.appending(path: "formats").appending(path: folder)
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == ext }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFormats.swift")
        return [
            .buildCommand(
                displayName: "Embedding formats/\(folder) into \(target.name)",
                executable: try context.tool(named: "EmbedFormatsTool").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
