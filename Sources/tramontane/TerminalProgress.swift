import Foundation
import Pipeline

#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr. On a terminal, a bar redrawn at most every 0.1 s and cleared at the end.
/// Into a pipe or a log, at most one line per step: the step's closing line (`finish`'s label,
/// if it has one), never a line per 10% — a log reads as a list of what was done.
final class TerminalProgress: ProgressReporter {
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    private let isTerminal = TerminalProgress.stderrIsTerminal
    private let enabled: Bool
    private var drawn = false
    private var lastDraw = Date.distantPast
    private let title: String
    /// Whether `finish` prints its label (off where the caller prints its own line per step).
    private let closingLine: Bool

    init(title: String, enabled: Bool = true, closingLine: Bool = true) {
        self.title = title
        self.enabled = enabled
        self.closingLine = closingLine
    }

    func update(done: Int, total: Int, label: String) {
        guard enabled, isTerminal, total > 0 else { return }
        let fraction = min(1, Double(done) / Double(total))
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        drawn = true
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let name = label.count > 40 ? "…" + label.suffix(39) : label
        write("\r\u{1B}[2K\(title) \(bar) \(String(format: "%3.0f", fraction * 100))% \(name)")
    }

    func finish(label: String) {
        guard enabled else { return }
        if drawn { write("\r\u{1B}[2K") }
        drawn = false
        if closingLine, !label.isEmpty { write("\(title): \(label)\n") }
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
