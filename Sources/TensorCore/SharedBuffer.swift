/// Memory that `parallelFor`'s bodies share through a pointer or buffer (`Base`), each body
/// reading or writing only its own part (a row, a chunk, a worker's slot). Unchecked Sendable:
/// pointers are not Sendable, and keeping the parts disjoint and the memory alive for the loop
/// is the caller's promise, made where the value is.
package struct SharedBuffer<Base>: @unchecked Sendable {
    package let base: Base
    @inline(__always) package init(_ base: Base) { self.base = base }
}
