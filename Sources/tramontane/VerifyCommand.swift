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
        /// Decoded bytes checked and the time it took: decode + checksum throughput.
        var decodedBytes: Int = 0
        var seconds: Double = 0
        var mbPerSecond: Double = 0
        enum CodingKeys: String, CodingKey {
            case file, ok, tensors, blobs, error, seconds
            case decodedBytes = "decoded_bytes", mbPerSecond = "mb_per_second"
        }
    }

    func run() throws {
        let progress = out.progress("verify")
        var result = Result(file: file, ok: false, tensors: 0, blobs: 0, error: nil)
        do {
            let tmt = try TMTFile(path: file)
            result.tensors = tmt.tensors.count
            result.blobs = tmt.blobs.count
            let start = Date()
            try tmt.verify(threads: threads.threads) { done, total, name in progress.update(done: done, total: total, label: name) }
            progress.finish(label: "")
            result.ok = true
            result.seconds = Date().timeIntervalSince(start)
            result.decodedBytes = (tmt.tensors + tmt.blobs).reduce(0) { $0 + $1.size }
            result.mbPerSecond = Double(result.decodedBytes) / 1e6 / max(result.seconds, 1e-9)
        } catch {
            progress.finish(label: "")
            result.error = "\(error)"
        }
        if out.json { try out.printJSON(result) }
        else if result.ok {
            print("\(file): OK (\(result.tensors) tensors, \(result.blobs) blobs, every checksum matches; \(String(format: "%.0f", result.mbPerSecond)) MB/s)")
        }
        else { FileHandle.standardError.write(Data("\(file): DAMAGED: \(result.error ?? "")\n".utf8)) }
        if !result.ok { throw ExitCode(1) }
    }
}
