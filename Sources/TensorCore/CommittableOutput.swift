/// An output that appears only when complete (`AtomicOutputFile`, `OutputDirectory` and the
/// writers built on them): `commit` puts it in place, `abandon` removes what was written.
package protocol CommittableOutput: AnyObject {
    func commit() throws
    func abandon()
}

extension CommittableOutput {
    /// Runs `body`, then commits; if either throws, abandons and rethrows, so the output is
    /// complete or absent.
    package func committing<R>(_ body: () throws -> R) throws -> R {
        do {
            let result = try body()
            try commit()
            return result
        } catch {
            abandon()
            throw error
        }
    }
}
