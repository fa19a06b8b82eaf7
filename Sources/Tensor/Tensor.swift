/// A dense, row-major float32 tensor: a shape over a shared storage buffer.
///
/// Value semantics: the buffer is reached only inside `withUnsafeBufferPointer` /
/// `withUnsafeMutableBufferPointer` (and the `fill` initialiser); mutation copies the buffer first
/// when another tensor shares it. No pointer may be kept past the closure it was given to.
public struct Tensor: Sendable {
    public private(set) var shape: [Int]
    @usableFromInline
    private(set) var storage: TensorStorage

    /// Number of elements.
    public var count: Int { storage.count }

    /// An uninitialised tensor of `shape` (every element must be written before it is read).
    public init(uninitializedShape shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *), zeroed: true)
    }

    /// A tensor holding `values` in row-major order.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        storage = TensorStorage(count: values.count)
        let destination = storage.pointer
        values.withUnsafeBufferPointer { destination.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A tensor filled by `body`, which receives the uninitialised buffer and must write every element.
    public init(shape: [Int], fill body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        self.init(uninitializedShape: shape)
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The elements as an array (tests and small values only).
    public var scalars: [Float] { withUnsafeBufferPointer { Array($0) } }

    /// Same storage, new shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var copy = self
        var dims = newShape
        if let inferred = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            dims[inferred] = count / Swift.max(known, 1)
        }
        precondition(dims.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        copy.shape = dims
        return copy
    }

    /// Read-only access to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Mutable access to the elements; copies the buffer first when another tensor shares it.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Size of dimension `axis` (negative counts from the end).
    public func dim(_ axis: Int) -> Int { shape[axis < 0 ? shape.count + axis : axis] }
}
