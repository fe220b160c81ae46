import Foundation
import Synchronization

/// Persistent worker threads for the many short parallel regions of decoding (several per
/// layer per token). `run(count) { job in … }` hands jobs out one at a time from an atomic
/// counter; the calling thread works too. Idle workers spin for a while before they sleep, so
/// back-to-back regions do not pay a thread wake-up each (what `DispatchQueue.concurrentPerform`
/// costs). `run` must not be called from inside a job or from two threads at once.
package final class WorkerPool: @unchecked Sendable {
    package let threads: Int
    /// generation << 32 | job count of the region being run.
    private let task = Atomic<UInt64>(0)
    /// generation << 32 | next job index. A worker claims only while the generation is the one
    /// it saw published and the index is below that region's count.
    private let claims = Atomic<UInt64>(0)
    private let finished = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let sleep = NSCondition()
    private var sleepers = 0
    private var generation: UInt64 = 0
    // Written by `run` before the region is published; read by workers only after a valid
    // claim, which the region cannot hand out once finished. Escaping (a worker may still
    // hold it for an instant after the region ends); callers capture pointers, not inout.
    private var body: ((Int, Int) -> Void)?
    /// Polls of `task` before an idle worker sleeps.
    private let spins = 100_000

    /// A pool for `threads` threads in all (the caller plus `threads − 1` workers).
    package init(threads: Int) {
        self.threads = max(1, threads)
        for w in 1..<self.threads {
            // The thread holds the pool until `shutdown`.
            let t = Thread { self.workerLoop(w) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    /// Stops the workers (they hold the pool until they see this).
    package func shutdown() {
        stopping.store(true, ordering: .releasing)
        sleep.lock(); sleep.broadcast(); sleep.unlock()
    }

    /// Runs `body(job, worker)` for every job in `0..<count`, returning when all are done.
    /// `worker` (0 for the caller, < `threads`) tells concurrent jobs apart, e.g. to pick a
    /// scratch buffer.
    package func run(_ count: Int, _ body: @escaping (_ job: Int, _ worker: Int) -> Void) {
        guard count > 0 else { return }
        if threads == 1 || count == 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        generation = (generation + 1) & 0xFFFF_FFFF
        let g = generation
        self.body = body
        finished.store(0, ordering: .relaxed)
        claims.store(g << 32, ordering: .releasing)
        task.store(g << 32 | UInt64(count), ordering: .releasing)
        sleep.lock()
        if sleepers > 0 { sleep.broadcast() }
        sleep.unlock()
        work(g, count, worker: 0)
        while finished.load(ordering: .acquiring) < count {}
    }

    private func work(_ g: UInt64, _ n: Int, worker: Int) {
        var v = claims.load(ordering: .acquiring)
        while v >> 32 == g && Int(v & 0xFFFF_FFFF) < n {
            // Compare-and-swap, not add: a late worker must not use up a newer region's job.
            let (exchanged, current) = claims.compareExchange(expected: v, desired: v + 1, ordering: .acquiringAndReleasing)
            if !exchanged { v = current; continue }
            guard let body else { return }
            body(Int(v & 0xFFFF_FFFF), worker)
            finished.add(1, ordering: .releasing)
            v = claims.load(ordering: .acquiring)
        }
    }

    private func workerLoop(_ worker: Int) {
        var seen = task.load(ordering: .acquiring) >> 32
        while !stopping.load(ordering: .acquiring) {
            var t = task.load(ordering: .acquiring)
            var spun = 0
            while t >> 32 == seen && spun < spins {
                spun += 1
                t = task.load(ordering: .acquiring)
            }
            if t >> 32 == seen {
                sleep.lock()
                sleepers += 1
                while task.load(ordering: .acquiring) >> 32 == seen && !stopping.load(ordering: .acquiring) { sleep.wait() }
                sleepers -= 1
                sleep.unlock()
                continue
            }
            seen = t >> 32
            work(seen, Int(t & 0xFFFF_FFFF), worker: worker)
        }
    }
}
