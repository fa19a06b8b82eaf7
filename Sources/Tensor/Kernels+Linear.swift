/// Dense layers: matrix products through `cblas_sgemm`, and the blocked transpose.
extension Kernels {
    /// dst[cols, rows] = src[rows, cols]ᵀ, cache-blocked.
    public static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        let block = 32
        let blocks = (rows + block - 1) / block
        let work = { (b: Int) in
            let r0 = b * block, r1 = min(r0 + block, rows)
            var c0 = 0
            while c0 < cols {
                let c1 = min(c0 + block, cols)
                for r in r0..<r1 { for c in c0..<c1 { dst[c * rows + r] = src[r * cols + c] } }
                c0 = c1
            }
        }
        // Blocks of rows write disjoint columns of dst: on every thread when the matrix is large.
        if rows * cols >= 1 << 16 { Parallel.forEach(blocks, work) } else { for b in 0..<blocks { work(b) } }
    }

    /// y = x · Wᵀ + b for x [rows, in], W [out, in] (PyTorch's Linear layout), b [out] or nil.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let inF = weight.shape[1], outF = weight.shape[0]
        precondition(x.shape.last == inF, "linear: input \(x.shape) does not end in \(inF)")
        let rows = x.count / inF
        var outShape = x.shape
        outShape[outShape.count - 1] = outF
        var y = Tensor(uninitializedShape: outShape)
        y.withUnsafeMutableBufferPointer { py in
            if let bias {
                bias.withUnsafeBufferPointer { pb in
                    for r in 0..<rows { (py.baseAddress! + r * outF).update(from: pb.baseAddress!, count: outF) }
                }
            }
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in
                BLAS.sgemm(transposeB: true, m: rows, n: outF, k: inF, a: px.baseAddress!, lda: inF,
                           b: pw.baseAddress!, ldb: inF, beta: bias == nil ? 0 : 1, c: py.baseAddress!, ldc: outF)
            } }
        }
        return y
    }
}
