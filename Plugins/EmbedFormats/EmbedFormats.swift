import Foundation
import PackagePlugin

/// Compiles the name maps in `formats/names/*.json` into the target as string constants, so the
/// maps stay data that people read and edit, and the `tramontane` binary still needs no files
/// beside it.
@main
struct EmbedFormats: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let dir = context.package.directoryURL.appending(path: "formats").appending(path: "names")
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFormats.swift")
        return [
            .buildCommand(
                displayName: "Embedding formats/names into \(target.name)",
                executable: try context.tool(named: "EmbedFormatsTool").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
