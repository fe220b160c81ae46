import Foundation

/// Ctrl-C during generation: stop cleanly (print the statistics, or in a chat go back to the
/// prompt) instead of dying.
final class InterruptFlag: @unchecked Sendable {
    private var set = false
    private let lock = NSLock()
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [weak self] in
            guard let self else { return }
            self.lock.lock(); self.set = true; self.lock.unlock()
        }
        source.resume()
    }

    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return set }

    /// Forgets an earlier Ctrl-C (a chat's next answer).
    func clear() { lock.lock(); set = false; lock.unlock() }

    deinit {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
