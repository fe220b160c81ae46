import Foundation
import PackagePlugin

/// `swift package tramontane SUBCOMMAND …` in a package that depends on Tramontane: runs this
/// package's `tramontane` binary (SwiftPM builds it for the plugin) with the arguments as given,
/// so an app developer quantizes or converts a model from their own package without installing
/// the tool. The plugin adds nothing to the arguments: the command is the CLI's, its help and
/// errors are the CLI's.
@main
struct TramontanePlugin: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        let tool = try context.tool(named: "tramontane")
        let process = Process()
        process.executableURL = tool.url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        // The digest cache lives in ~/.cache by default, which the macOS plugin sandbox does not
        // let the tool write; the plugin's own work folder is writable there and persists.
        if env["TRAMONTANE_CACHE_DIR"] == nil {
            env["TRAMONTANE_CACHE_DIR"] = context.pluginWorkDirectoryURL.appending(path: "cache").path
        }
        process.environment = env
        // stdout/stderr are inherited: progress and the tool's own messages reach the user as is.
        try process.run()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit
                ? "exit status \(process.terminationStatus)" : "signal \(process.terminationStatus)"
            // An error diagnostic alone makes `swift package` exit non-zero; throwing as well
            // would print the failure twice.
            Diagnostics.error("tramontane \(arguments.first ?? "") failed (\(how)); its message is above")
            return
        }
    }
}
