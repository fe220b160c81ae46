import Foundation

/// Runs output writes on a thread of their own, one at a time and at most one behind, so a
/// tensor is written while the next one is quantized (on 2 cores the write was a serial gap
/// between tensors). The first error is kept and rethrown by the next `submit` or by `drain`.
final class WriteBehind: @unchecked Sendable {
    private let queue = DispatchQueue(label: "tramontane.write-behind")
    private let slot = DispatchSemaphore(value: 1)
    private let lock = NSLock()
    private var failure: Error?

    /// Waits for the previous write, then starts `job` in the background. The job (and what it
    /// holds, such as a recycled output buffer) is released before the next submit can start.
    func submit(_ job: @escaping () throws -> Void) throws {
        slot.wait()
        if let e = takeFailure() { slot.signal(); throw e }
        let held = Held(job)
        queue.async { [self] in
            do { try held.run() } catch { lock.withLock { if failure == nil { failure = error } } }
            held.release()
            slot.signal()
        }
    }

    /// A job that can be let go of explicitly: a block's captures are released only after it
    /// returns, which can be after the waiting submitter has gone on (and found its next output
    /// buffer still taken).
    private final class Held: @unchecked Sendable {
        private var job: (() throws -> Void)?
        init(_ job: @escaping () throws -> Void) { self.job = job }
        func run() throws { try job?() }
        func release() { job = nil }
    }

    /// Waits for the write in flight and rethrows its error, if any.
    func drain() throws {
        slot.wait()
        slot.signal()
        if let e = takeFailure() { throw e }
    }

    private func takeFailure() -> Error? { lock.withLock { failure } }
}
