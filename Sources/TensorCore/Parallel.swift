import Dispatch
import Foundation
import Synchronization

/// Runs `body(index, worker)` for every index in `0..<count` on `threads` workers, each taking
/// the next index from a shared counter (a fixed w, w+threads, … split left one worker idle
/// while the other finished a longer share: SmolLM2's quantization spent a tenth of its samples
/// in the idle worker's `sched_yield`). The first error thrown is rethrown after all workers stop.
/// `body` runs on several threads at once, hence `@Sendable`; what it writes through pointers
/// (disjoint rows, chunks) is the caller's to keep apart.
package func parallelFor(_ count: Int, threads: Int, _ body: @Sendable (Int, Int) throws -> Void) throws {
    let workers = max(1, min(threads, count))
    if workers == 1 {
        for i in 0..<count { try body(i, 0) }
        return
    }
    let firstError = Mutex<(any Error)?>(nil)
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < count else { return }
                if firstError.withLock({ $0 != nil }) { return }
                do { try body(i, w) } catch {
                    firstError.withLock { if $0 == nil { $0 = error } }
                    return
                }
            }
        }
    }
    if let error = firstError.withLock({ $0 }) { throw error }
}

/// The number of cores, for `--threads` defaults.
public var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }
