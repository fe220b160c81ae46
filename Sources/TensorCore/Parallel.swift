import Dispatch
import Foundation

/// Runs `body(index, worker)` for every index in `0..<count` on `threads` workers (worker `w`
/// takes indices w, w+threads, …). The first error thrown is rethrown after all workers stop.
public func parallelFor(_ count: Int, threads: Int, _ body: (Int, Int) throws -> Void) throws {
    let workers = max(1, min(threads, count))
    if workers == 1 {
        for i in 0..<count { try body(i, 0) }
        return
    }
    let lock = NSLock()
    var firstError: Error?
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < count {
                lock.lock(); let failed = firstError != nil; lock.unlock()
                if failed { return }
                do { try body(i, w) } catch {
                    lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
                    return
                }
                i += workers
            }
        }
    }
    if let firstError { throw firstError }
}

/// The number of cores, for `--threads` defaults.
public var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }
