import Foundation
import Synchronization

/// A value computed on a thread of its own while the caller goes on; `wait()` joins it. For
/// work that is not on the critical path but would otherwise be a serial step of it (a
/// source's SHA-256, a tokenizer's JSON text).
package final class Background<T>: @unchecked Sendable {
    private var result: Result<T, Error>?
    private let done = DispatchSemaphore(value: 0)
    private let finished = Atomic<Bool>(false)

    package init(_ work: @escaping @Sendable () throws -> T) {
        Thread.detachNewThread { [self] in
            result = Result { try work() }
            finished.store(true, ordering: .releasing)
            done.signal()
        }
    }

    /// Whether the work has finished (without waiting).
    package var isDone: Bool { finished.load(ordering: .acquiring) }

    /// The value, or the error `work` threw; waits for it the first time.
    package func wait() throws -> T {
        done.wait()
        done.signal()   // later calls return at once
        guard let result else { throw CancellationError() }
        return try result.get()
    }
}
