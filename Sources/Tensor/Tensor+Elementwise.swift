import Foundation

extension Tensor {
    /// self + other, same shape.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "shape mismatch \(lhs.shape) + \(rhs.shape)")
        return Tensor(shape: lhs.shape) { out in
            lhs.withUnsafeBufferPointer { a in rhs.withUnsafeBufferPointer { b in
                for i in 0..<out.count { out[i] = a[i] + b[i] }
            } }
        }
    }

    /// self − other, same shape.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "shape mismatch \(lhs.shape) - \(rhs.shape)")
        return Tensor(shape: lhs.shape) { out in
            lhs.withUnsafeBufferPointer { a in rhs.withUnsafeBufferPointer { b in
                for i in 0..<out.count { out[i] = a[i] - b[i] }
            } }
        }
    }

    /// Every element times a scalar.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        lhs.map { $0 * rhs }
    }

    /// Applies `f` to every element.
    @inlinable
    public func map(_ f: (Float) -> Float) -> Tensor {
        Tensor(shape: shape) { out in
            withUnsafeBufferPointer { a in for i in 0..<out.count { out[i] = f(a[i]) } }
        }
    }

    /// `f(self[i], other[i])` for every element, same shape.
    @inlinable
    public func combined(with other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "shape mismatch \(shape) vs \(other.shape)")
        return Tensor(shape: shape) { out in
            withUnsafeBufferPointer { a in other.withUnsafeBufferPointer { b in
                for i in 0..<out.count { out[i] = f(a[i], b[i]) }
            } }
        }
    }

    /// In place: self += other.
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "shape mismatch \(shape) += \(other.shape)")
        other.withUnsafeBufferPointer { b in
            withUnsafeMutableBufferPointer { a in
                for i in 0..<a.count { a[i] += b[i] }
            }
        }
    }
    /// True when no element is NaN or infinite.
    public var isFinite: Bool {
        withUnsafeBufferPointer { p in
            var bad = false
            for v in p where !v.isFinite { bad = true; break }
            return !bad
        }
    }


    /// Largest absolute element-wise difference to `other` (tests and diagnostics).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(count == other.count, "size mismatch \(shape) vs \(other.shape)")
        var m: Float = 0
        withUnsafeBufferPointer { a in other.withUnsafeBufferPointer { b in
            for i in 0..<count { m = Swift.max(m, abs(a[i] - b[i])) }
        } }
        return m
    }

    /// Largest absolute element.
    public var maxAbs: Float {
        var m: Float = 0
        withUnsafeBufferPointer { a in
            for i in 0..<count { m = Swift.max(m, abs(a[i])) }
        }
        return m
    }

    /// Concatenates tensors along axis 0 (their other dimensions must agree).
    public static func concatenate(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "nothing to concatenate")
        let tail = Array(parts[0].shape.dropFirst())
        for p in parts { precondition(Array(p.shape.dropFirst()) == tail, "cannot concatenate \(p.shape) with \(parts[0].shape)") }
        let total = parts.reduce(0) { $0 + $1.shape[0] }
        return Tensor(shape: [total] + tail) { out in
            var offset = 0
            for p in parts {
                p.withUnsafeBufferPointer { (out.baseAddress! + offset).update(from: $0.baseAddress!, count: p.count) }
                offset += p.count
            }
        }
    }

    /// The tensor `times` times along axis 0 ([x] → [x, x, …]).
    public func repeatedBatch(_ times: Int) -> Tensor {
        Tensor.concatenate(Array(repeating: self, count: times))
    }

    /// True when the tensor's `parts` equal slices along axis 0 hold bitwise the same values.
    public func hasIdenticalBatchParts(_ parts: Int) -> Bool {
        guard parts > 1, shape.first.map({ $0 % parts == 0 && $0 > 0 }) == true else { return false }
        let part = count / parts
        return withUnsafeBufferPointer { p in
            (1..<parts).allSatisfy { memcmp(p.baseAddress!, p.baseAddress! + $0 * part, part * MemoryLayout<Float>.stride) == 0 }
        }
    }

    /// Rows `range` of axis 0.
    public func slice(_ range: Range<Int>) -> Tensor {
        let inner = count / Swift.max(shape[0], 1)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape) { out in
            withUnsafeBufferPointer { src in
                out.baseAddress!.update(from: src.baseAddress! + range.lowerBound * inner, count: range.count * inner)
            }
        }
    }

    /// Concatenates NCHW tensors along the channel axis.
    public static func concatenateChannels(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape.count == 4 && b.shape.count == 4 && a.shape[0] == b.shape[0] && a.shape[2] == b.shape[2] && a.shape[3] == b.shape[3],
                     "cannot concatenate channels of \(a.shape) and \(b.shape)")
        let n = a.shape[0], ca = a.shape[1], cb = b.shape[1], hw = a.shape[2] * a.shape[3]
        return Tensor(shape: [n, ca + cb, a.shape[2], a.shape[3]]) { out in
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                for i in 0..<n {
                    let dst = out.baseAddress! + i * (ca + cb) * hw
                    (dst).update(from: pa.baseAddress! + i * ca * hw, count: ca * hw)
                    (dst + ca * hw).update(from: pb.baseAddress! + i * cb * hw, count: cb * hw)
                }
            } }
        }
    }

    /// NCHW → N(HW)C.
    public func channelsLast() -> Tensor {
        precondition(shape.count == 4, "channelsLast needs NCHW, got \(shape)")
        let n = shape[0], c = shape[1], hw = shape[2] * shape[3]
        return Tensor(shape: [n, hw, c]) { out in
            withUnsafeBufferPointer { src in
                for b in 0..<n { Kernels.transpose(src.baseAddress! + b * c * hw, rows: c, cols: hw, into: out.baseAddress! + b * c * hw) }
            }
        }
    }

    /// N(HW)C → NCHW with the given height and width.
    public func channelsFirst(height: Int, width: Int) -> Tensor {
        precondition(shape.count == 3 && shape[1] == height * width, "channelsFirst needs N×(H·W)×C, got \(shape)")
        let n = shape[0], hw = shape[1], c = shape[2]
        return Tensor(shape: [n, c, height, width]) { out in
            withUnsafeBufferPointer { src in
                for b in 0..<n { Kernels.transpose(src.baseAddress! + b * c * hw, rows: hw, cols: c, into: out.baseAddress! + b * c * hw) }
            }
        }
    }
}
