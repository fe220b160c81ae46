/// Element count of a shape (outermost dimension first), refusing negative dimensions and overflow.
package func elementCount(_ shape: [Int]) throws(TensorError) -> Int {
    var n = 1
    for d in shape {
        guard d >= 0 else { throw .invalidShape("negative dimension in \(shape)") }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        guard !o else { throw .invalidShape("element count of \(shape) overflows") }
        n = p
    }
    return n
}
