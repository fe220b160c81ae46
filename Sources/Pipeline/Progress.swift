/// Receives progress of long work; the CLI draws a bar on a terminal or prints quiet lines.
public protocol ProgressReporter: AnyObject {
    /// `done` of `total` units (bytes or items) finished; `label` says what is being worked on.
    func update(done: Int, total: Int, label: String)
    func finish(label: String)
}

/// Reports nothing.
public final class SilentProgress: ProgressReporter {
    public init() {}
    public func update(done: Int, total: Int, label: String) {}
    public func finish(label: String) {}
}
