import Foundation

/// Runs output writes on a thread of their own, one at a time and at most one behind, so a
/// tensor is written while the next one is quantized (on 2 cores the write was a serial gap
/// between tensors). The first error is kept and rethrown by the next `submit` or by `drain`.
final class WriteBehind: @unchecked Sendable {
    private let queue = DispatchQueue(label: "tramontane.write-behind")
    private let slot = DispatchSemaphore(value: 1)
    private let lock = NSLock()
    private var failure: Error?

    /// Waits for the previous write, then starts `job` in the background.
    func submit(_ job: @escaping () throws -> Void) throws {
        slot.wait()
        if let e = takeFailure() { slot.signal(); throw e }
        queue.async { [self] in
            do { try job() } catch { lock.withLock { if failure == nil { failure = error } } }
            slot.signal()
        }
    }

    /// Waits for the write in flight and rethrows its error, if any.
    func drain() throws {
        slot.wait()
        slot.signal()
        if let e = takeFailure() { throw e }
    }

    private func takeFailure() -> Error? { lock.withLock { failure } }
}
