/// Convolutions: im2col + `cblas_sgemm`.
extension Kernels {
    /// 2-D convolution, NCHW, weight [Cout, Cin, kh, kw], zero padding (top/left `padding`,
    /// bottom/right `padding + extraPadEnd`), through im2col + sgemm.
    ///
    /// Small images of a batch share one GEMM (columns side by side), so OpenBLAS packs the weight
    /// matrix once per call instead of once per image; large images are tiled by output rows so the
    /// column buffer stays near 64 MB.
    ///
    /// 3×3 stride-1 layers with padding 0 or 1 go through Winograd (`winogradConv3x3`) where
    /// `convAlgorithm` picks it; `algorithm` overrides that choice (tests compare the paths).
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int, extraPadEnd: Int = 0,
                              algorithm: ConvAlgorithm? = nil) -> Tensor {
        precondition(x.shape.count == 4 && weight.shape.count == 4 && x.shape[1] == weight.shape[1],
                     "conv2d: input \(x.shape) vs weight \(weight.shape)")
        let n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3]
        let cout = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
        let oh = (h + 2 * padding + extraPadEnd - kh) / stride + 1
        let ow = (w + 2 * padding + extraPadEnd - kw) / stride + 1
        if kh == 3 && kw == 3 && stride == 1 && extraPadEnd == 0 && padding <= 1 {
            let chosen = algorithm ?? convAlgorithm(channelsIn: cin, channelsOut: cout, outHeight: oh, outWidth: ow)
            if chosen != .direct { return winogradConv3x3(x, weight: weight, bias: bias, padding: padding, algorithm: chosen) }
        }
        let kdim = cin * kh * kw
        let plane = oh * ow
        let budget = 16 << 20
        var y = Tensor(uninitializedShape: [n, cout, oh, ow])
        let batched = n > 1 && kdim * plane * n <= budget
        y.withUnsafeMutableBufferPointer { py in
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in
                if batched {
                    // col [kdim, n·plane]; result [cout, n·plane] scattered to NCHW with the bias.
                    let cols = n * plane
                    let col = BufferPool.allocate(count: kdim * cols), tmp = BufferPool.allocate(count: cout * cols)
                    defer { BufferPool.release(col, count: kdim * cols); BufferPool.release(tmp, count: cout * cols) }
                    for b in 0..<n {
                        im2col(px.baseAddress! + b * cin * h * w, channels: cin, height: h, width: w, kh: kh, kw: kw, stride: stride,
                               padding: padding, rowStart: 0, rowEnd: oh, outWidth: ow, into: col + b * plane, rowStride: cols)
                    }
                    BLAS.sgemm(m: cout, n: cols, k: kdim, a: pw.baseAddress!, lda: kdim, b: col, ldb: cols, c: tmp, ldc: cols)
                    for b in 0..<n { for c in 0..<cout {
                        let dst = py.baseAddress! + (b * cout + c) * plane, src = tmp + c * cols + b * plane
                        let add = bias?.withUnsafeBufferPointer { $0[c] } ?? 0
                        for i in 0..<plane { dst[i] = src[i] + add }
                    } }
                    return
                }
                let pointwise = kh == 1 && kw == 1 && stride == 1 && padding == 0 && extraPadEnd == 0
                let rowsPerTile = max(1, min(oh, budget / max(kdim * ow, 1)))
                let colCount = kdim * rowsPerTile * ow
                let col = pointwise ? nil : BufferPool.allocate(count: colCount)
                defer { if let col { BufferPool.release(col, count: colCount) } }
                for b in 0..<n {
                    let xin = px.baseAddress! + b * cin * h * w
                    let yout = py.baseAddress! + b * cout * plane
                    if let bias {
                        bias.withUnsafeBufferPointer { pb in
                            for c in 0..<cout { (yout + c * plane).update(repeating: pb[c], count: plane) }
                        }
                    }
                    if pointwise {
                        BLAS.sgemm(m: cout, n: h * w, k: cin, a: pw.baseAddress!, lda: cin, b: xin, ldb: h * w,
                                   beta: bias == nil ? 0 : 1, c: yout, ldc: plane)
                        continue
                    }
                    var r0 = 0
                    while r0 < oh {
                        let r1 = min(oh, r0 + rowsPerTile)
                        let cols = (r1 - r0) * ow
                        im2col(xin, channels: cin, height: h, width: w, kh: kh, kw: kw, stride: stride, padding: padding,
                               rowStart: r0, rowEnd: r1, outWidth: ow, into: col!, rowStride: cols)
                        BLAS.sgemm(m: cout, n: cols, k: kdim, a: pw.baseAddress!, lda: kdim, b: col!, ldb: cols,
                                   beta: bias == nil ? 0 : 1, c: yout + r0 * ow, ldc: plane)
                        r0 = r1
                    }
                }
            } }
        }
        return y
    }

    /// Column matrix [cin·kh·kw, (rowEnd−rowStart)·outWidth] for output rows rowStart..<rowEnd.
    /// Channels are spread over `Parallel.threads`.
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, kh: Int, kw: Int,
                       stride: Int, padding: Int, rowStart: Int, rowEnd: Int, outWidth ow: Int,
                       into col: UnsafeMutablePointer<Float>, rowStride: Int) {
        Parallel.forRanges(channels, minimum: max(1, 32_768 / max(kh * kw * (rowEnd - rowStart) * ow, 1))) { range in
            im2colChannels(x, channels: range, height: h, width: w, kh: kh, kw: kw, stride: stride, padding: padding,
                           rowStart: rowStart, rowEnd: rowEnd, outWidth: ow, into: col, rowStride: rowStride)
        }
    }

    private static func im2colChannels(_ x: UnsafePointer<Float>, channels: Range<Int>, height h: Int, width w: Int, kh: Int, kw: Int,
                                       stride: Int, padding: Int, rowStart: Int, rowEnd: Int, outWidth ow: Int,
                                       into col: UnsafeMutablePointer<Float>, rowStride: Int) {
        for c in channels {
            for i in 0..<kh { for j in 0..<kw {
                let dstRow = col + ((c * kh + i) * kw + j) * rowStride
                var idx = 0
                for oy in rowStart..<rowEnd {
                    let iy = oy * stride - padding + i
                    if iy < 0 || iy >= h {
                        (dstRow + idx).update(repeating: 0, count: ow)
                        idx += ow
                        continue
                    }
                    let srcRow = x + (c * h + iy) * w
                    if stride == 1 {
                        // ix = ox - padding + j; valid ox range where 0 <= ix < w.
                        let lo = max(0, padding - j), hi = min(ow, w + padding - j)
                        if lo > 0 { (dstRow + idx).update(repeating: 0, count: lo) }
                        if hi > lo { (dstRow + idx + lo).update(from: srcRow + lo - padding + j, count: hi - lo) }
                        if hi < ow { (dstRow + idx + max(hi, lo)).update(repeating: 0, count: ow - max(hi, lo)) }
                        idx += ow
                    } else {
                        for ox in 0..<ow {
                            let ix = ox * stride - padding + j
                            dstRow[idx] = (ix >= 0 && ix < w) ? srcRow[ix] : 0
                            idx += 1
                        }
                    }
                }
            } }
        }
    }
}
