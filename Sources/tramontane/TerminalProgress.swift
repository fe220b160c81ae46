import Foundation
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr: a redrawn bar on a terminal; when piped, a quiet line every 10%.
/// Silent with `--json` unless stderr is a terminal, so scripts get clean output.
final class TerminalProgress: ProgressReporter {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let enabled: Bool
    private var lastDecile = -1
    private var lastDraw = Date.distantPast
    private let title: String

    init(title: String, quiet: Bool = false) {
        self.title = title
        enabled = !quiet || isatty(STDERR_FILENO) != 0
    }

    func update(done: Int, total: Int, label: String) {
        guard enabled, total > 0 else { return }
        let fraction = min(1, Double(done) / Double(total))
        if isTerminal {
            let now = Date()
            guard now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let name = label.count > 40 ? "…" + label.suffix(39) : label
            write("\r\u{1B}[2K\(title) \(bar) \(String(format: "%3.0f", fraction * 100))% \(name)")
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            write("\(title): \(decile * 10)%\n")
        }
    }

    func finish(label: String) {
        guard enabled else { return }
        if isTerminal { write("\r\u{1B}[2K") }
        if !label.isEmpty { write("\(title): \(label)\n") }
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
