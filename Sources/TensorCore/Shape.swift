/// Element count of a shape (outermost dimension first), refusing negative dimensions and overflow.
public func elementCount(_ shape: [Int]) throws(TensorError) -> Int {
    var n = 1
    for d in shape {
        guard d >= 0 else { throw .invalidShape("negative dimension in \(shape)") }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        guard !o else { throw .invalidShape("element count of \(shape) overflows") }
        n = p
    }
    return n
}

/// Rows and columns of a tensor seen as a matrix: the innermost dimension is the row length.
public func matrixDimensions(_ shape: [Int]) -> (rows: Int, columns: Int) {
    guard let cols = shape.last else { return (1, 1) }
    let rows = shape.dropLast().reduce(1, *)
    return (rows, cols)
}
