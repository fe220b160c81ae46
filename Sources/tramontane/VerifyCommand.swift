import ArgumentParser
import Foundation
import ModelFile
import Pipeline

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum of a .tmt file; report the first damaged tensor and chunk.")

    @Argument(help: "The .tmt file.")
    var file: String

    @OptionGroup var threads: ThreadOptions
    @OptionGroup var out: OutputOptions

    struct Result: Codable {
        var file: String
        var ok: Bool
        var tensors: Int
        var blobs: Int
        var error: String?
    }

    func run() throws {
        let progress = TerminalProgress(title: "verify", quiet: out.json)
        var result = Result(file: file, ok: false, tensors: 0, blobs: 0, error: nil)
        do {
            let tmt = try TMTFile(path: file)
            result.tensors = tmt.tensors.count
            result.blobs = tmt.blobs.count
            try tmt.verify(threads: threads.threads) { done, total, name in progress.update(done: done, total: total, label: name) }
            progress.finish(label: "")
            result.ok = true
        } catch {
            progress.finish(label: "")
            result.error = "\(error)"
        }
        if out.json { try out.printJSON(result) }
        else if result.ok { print("\(file): OK (\(result.tensors) tensors, \(result.blobs) blobs, every checksum matches)") }
        else { FileHandle.standardError.write(Data("\(file): DAMAGED: \(result.error ?? "")\n".utf8)) }
        if !result.ok { throw ExitCode(1) }
    }
}
