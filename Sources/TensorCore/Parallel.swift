import Dispatch
import Foundation
import Synchronization

/// Runs `body(index, worker)` for every index in `0..<count` on `threads` workers, each taking
/// the next index from a shared counter (a fixed w, w+threads, … split left one worker idle
/// while the other finished a longer share: SmolLM2's quantization spent a tenth of its samples
/// in the idle worker's `sched_yield`). The first error thrown is rethrown after all workers stop.
public func parallelFor(_ count: Int, threads: Int, _ body: (Int, Int) throws -> Void) throws {
    let workers = max(1, min(threads, count))
    if workers == 1 {
        for i in 0..<count { try body(i, 0) }
        return
    }
    let lock = NSLock()
    var firstError: Error?
    let next = Atomic<Int>(0)
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < count else { return }
                lock.lock(); let failed = firstError != nil; lock.unlock()
                if failed { return }
                do { try body(i, w) } catch {
                    lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
                    return
                }
            }
        }
    }
    if let firstError { throw firstError }
}

/// The number of cores, for `--threads` defaults.
public var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }
