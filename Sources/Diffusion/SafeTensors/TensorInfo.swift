/// Where one tensor lives in a safetensors file.
public struct TensorInfo: Sendable, Equatable {
    public let dtype: DType
    public let shape: [Int]
    /// Byte range within the whole file (the header's `data_offsets` plus the data section's start).
    public let byteRange: Range<Int>

    public init(dtype: DType, shape: [Int], byteRange: Range<Int>) {
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }

    /// Number of elements (1 for a scalar of shape `[]`).
    public var elementCount: Int { shape.reduce(1, *) }
}
