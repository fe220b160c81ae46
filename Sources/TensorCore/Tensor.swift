/// A tensor as a reader presents it: name, element type, shape (outermost first, as PyTorch
/// prints it) and a way to get its bytes. Nothing is read until `load()` is called; for mapped
/// files `load()` returns a view into the mapping.
public struct SourceTensor: @unchecked Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// Where the bytes come from, for error messages ("model-00002.safetensors @ 12345").
    public var origin: String
    public var load: () throws -> ByteRegion

    public init(name: String, dtype: DType, shape: [Int], origin: String, load: @escaping () throws -> ByteRegion) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.origin = origin
        self.load = load
    }

    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes the tensor takes in its dtype (shape already validated by the reader).
    public var byteCount: Int { (try? dtype.byteCount(shape: shape)) ?? 0 }
}
