import Synchronization
import TensorCore
import XCTest

/// Every job of every region runs exactly once, regions run back to back (the workers spin
/// between them) and after the workers have gone to sleep.
final class WorkerPoolTests: XCTestCase {
    func testEveryJobRunsOnceAcrossManyRegions() {
        let pool = WorkerPool(threads: 3)
        defer { pool.shutdown() }
        for region in 0..<2000 {
            let count = 1 + region % 37
            let hits = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: count)
            for i in 0..<count { (hits + i).initialize(to: Atomic(0)) }
            pool.run(count) { job, worker in
                XCTAssert(worker >= 0 && worker < 3)
                hits[job].add(1, ordering: .relaxed)
            }
            for i in 0..<count where hits[i].load(ordering: .relaxed) != 1 {
                XCTFail("region \(region) job \(i) ran \(hits[i].load(ordering: .relaxed)) times")
            }
            hits.deallocate()
            if region == 1000 { Thread.sleep(forTimeInterval: 0.3) }  // let the workers fall asleep
        }
    }
}
