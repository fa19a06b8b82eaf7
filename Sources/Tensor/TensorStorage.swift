/// Owns a contiguous, 64-byte aligned buffer of `Float`s (large ones come from and go back to `BufferPool`).
///
/// Internal to the module: only `Tensor` reaches the buffer, and it writes only through a uniquely
/// referenced storage (copy-on-write), so a storage two tensors share is never written.
@usableFromInline
// reason: written only while one Tensor holds it (fresh, or isKnownUniquelyReferenced); shared storage is read-only.
final class TensorStorage: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int

    /// Allocates `count` floats, uninitialised unless `zeroed`.
    init(count: Int, zeroed: Bool = false) {
        precondition(count >= 0, "negative tensor size")
        pointer = BufferPool.allocate(count: count)
        self.count = count
        if zeroed { pointer.initialize(repeating: 0, count: count) }
    }

    /// A new storage holding a copy of this one's elements.
    func copy() -> TensorStorage {
        let fresh = TensorStorage(count: count)
        fresh.pointer.update(from: pointer, count: count)
        return fresh
    }

    deinit { BufferPool.release(pointer, count: count) }
}
