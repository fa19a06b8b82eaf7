import Foundation

/// CPU kernels over raw buffers. Shapes are checked by the callers (the layers in Diffusion).
public enum Kernels {
    /// dst[cols, rows] = src[rows, cols]ᵀ, cache-blocked.
    public static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        let block = 32
        var r0 = 0
        while r0 < rows {
            let r1 = min(r0 + block, rows)
            var c0 = 0
            while c0 < cols {
                let c1 = min(c0 + block, cols)
                for r in r0..<r1 { for c in c0..<c1 { dst[c * rows + r] = src[r * cols + c] } }
                c0 = c1
            }
            r0 = r1
        }
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

    /// 2-D convolution, NCHW, weight [Cout, Cin, kh, kw], zero padding (top/left `padding`,
    /// bottom/right `padding + extraPadEnd`), through im2col + sgemm.
    ///
    /// Small images of a batch share one GEMM (columns side by side), so OpenBLAS packs the weight
    /// matrix once per call instead of once per image; large images are tiled by output rows so the
    /// column buffer stays near 64 MB.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int, extraPadEnd: Int = 0) -> Tensor {
        precondition(x.shape.count == 4 && weight.shape.count == 4 && x.shape[1] == weight.shape[1],
                     "conv2d: input \(x.shape) vs weight \(weight.shape)")
        let n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3]
        let cout = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3]
        let oh = (h + 2 * padding + extraPadEnd - kh) / stride + 1
        let ow = (w + 2 * padding + extraPadEnd - kw) / stride + 1
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
                    let col = UnsafeMutablePointer<Float>.allocate(capacity: kdim * cols)
                    let tmp = UnsafeMutablePointer<Float>.allocate(capacity: cout * cols)
                    defer { col.deallocate(); tmp.deallocate() }
                    for b in 0..<n {
                        im2col(px.baseAddress! + b * cin * h * w, channels: cin, height: h, width: w, kh: kh, kw: kw, stride: stride,
                               padding: padding, rowStart: 0, rowEnd: oh, outWidth: ow, into: col + b * plane, rowStride: cols)
                    }
                    BLAS.sgemm(m: cout, n: cols, k: kdim, a: pw.baseAddress!, lda: kdim, b: col, ldb: cols, c: tmp, ldc: cols)
                    for b in 0..<n { for c in 0..<cout {
                        let dst = py.baseAddress! + (b * cout + c) * plane, src = tmp + c * cols + b * plane
                        let add = bias.map { $0.storage.pointer[c] } ?? 0
                        for i in 0..<plane { dst[i] = src[i] + add }
                    } }
                    return
                }
                let pointwise = kh == 1 && kw == 1 && stride == 1 && padding == 0 && extraPadEnd == 0
                let rowsPerTile = max(1, min(oh, budget / max(kdim * ow, 1)))
                let col = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: kdim * rowsPerTile * ow)
                defer { col?.deallocate() }
                for b in 0..<n {
                    let xin = px.baseAddress! + b * cin * h * w
                    let yout = py.baseAddress! + b * cout * plane
                    if let bias {
                        for c in 0..<cout { (yout + c * plane).update(repeating: bias.storage.pointer[c], count: plane) }
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
        withExtendedLifetime(bias) {}
        return y
    }

    /// Column matrix [cin·kh·kw, (rowEnd−rowStart)·outWidth] for output rows rowStart..<rowEnd.
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int, kh: Int, kw: Int,
                       stride: Int, padding: Int, rowStart: Int, rowEnd: Int, outWidth ow: Int,
                       into col: UnsafeMutablePointer<Float>, rowStride: Int) {
        for c in 0..<channels {
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

    /// GroupNorm over NCHW (or N×C for rank 2) with per-channel affine; optionally SiLU afterwards.
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor, bias: Tensor, eps: Float, silu: Bool = false) -> Tensor {
        let n = x.shape[0], c = x.shape[1]
        let spatial = x.count / max(n * c, 1)
        precondition(c % groups == 0, "groupNorm: \(c) channels not divisible into \(groups) groups")
        let cpg = c / groups
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
                for b in 0..<n { for g in 0..<groups {
                    let base = (b * c + g * cpg) * spatial
                    let m = cpg * spatial
                    var sum: Double = 0
                    for i in 0..<m { sum += Double(px[base + i]) }
                    let mean = sum / Double(m)
                    var sq: Double = 0
                    for i in 0..<m { let d = Double(px[base + i]) - mean; sq += d * d }
                    let inv = 1 / (sq / Double(m) + Double(eps)).squareRoot()
                    for cc in 0..<cpg {
                        let ch = g * cpg + cc
                        let scale = Float(inv) * pw[ch]
                        let shift = pb[ch] - Float(mean) * scale
                        let o = base + cc * spatial
                        if silu {
                            let dst = out.baseAddress! + o
                            FastMath.apply(px.baseAddress! + o, dst, count: spatial) { v in FastMath.silu(v * scale + shift) }
                        } else {
                            for i in 0..<spatial { out[o + i] = px[o + i] * scale + shift }
                        }
                    }
                } }
            } } }
        }
    }

    /// LayerNorm over the last dimension.
    public static func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
        let d = x.shape.last!
        let rows = x.count / d
        return Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in bias.withUnsafeBufferPointer { pb in
                for r in 0..<rows {
                    let base = r * d
                    var sum: Double = 0
                    for i in 0..<d { sum += Double(px[base + i]) }
                    let mean = sum / Double(d)
                    var sq: Double = 0
                    for i in 0..<d { let v = Double(px[base + i]) - mean; sq += v * v }
                    let inv = Float(1 / (sq / Double(d) + Double(eps)).squareRoot())
                    let fm = Float(mean)
                    for i in 0..<d { out[base + i] = (px[base + i] - fm) * inv * pw[i] + pb[i] }
                }
            } } }
        }
    }

    /// Multi-head scaled dot-product attention.
    ///
    /// q [B, Nq, H·d], k and v [B, Nk, H·d] (heads interleaved in the channel dimension, as PyTorch's
    /// Linear produces them) → [B, Nq, H·d]. Scores are computed in tiles of query rows so memory stays
    /// at `tile × Nk` floats, never Nq × Nk × H. `causal` masks keys after the query position.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int, causal: Bool = false) -> Tensor {
        let bsz = q.shape[0], nq = q.shape[1], width = q.shape[2], nk = k.shape[1]
        precondition(k.shape == [bsz, nk, width] && v.shape == k.shape && width % heads == 0,
                     "attention: q \(q.shape) k \(k.shape) v \(v.shape) heads \(heads)")
        let d = width / heads
        let scale = Float(1 / Double(d).squareRoot())
        let tile = max(1, min(nq, (4 << 20) / max(nk, 1)))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: tile * nk)
        defer { scores.deallocate() }
        var out = Tensor(uninitializedShape: [bsz, nq, width])
        out.withUnsafeMutableBufferPointer { po in
            q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
                for b in 0..<bsz { for h in 0..<heads {
                    let qb = pq.baseAddress! + b * nq * width + h * d
                    let kb = pk.baseAddress! + b * nk * width + h * d
                    let vb = pv.baseAddress! + b * nk * width + h * d
                    let ob = po.baseAddress! + b * nq * width + h * d
                    var r0 = 0
                    while r0 < nq {
                        let rows = min(tile, nq - r0)
                        BLAS.sgemm(transposeB: true, m: rows, n: nk, k: d, alpha: scale, a: qb + r0 * width, lda: width,
                                   b: kb, ldb: width, c: scores, ldc: nk)
                        for r in 0..<rows {
                            let row = scores + r * nk
                            let limit = causal ? min(nk, r0 + r + 1) : nk
                            var m = -Float.infinity
                            for j in 0..<limit { m = max(m, row[j]) }
                            let inv = 1 / FastMath.expShiftedSum(row, count: limit, shift: m)
                            for j in 0..<limit { row[j] *= inv }
                            if limit < nk { (row + limit).update(repeating: 0, count: nk - limit) }
                        }
                        BLAS.sgemm(m: rows, n: d, k: nk, a: scores, lda: nk, b: vb, ldb: width, c: ob + r0 * width, ldc: width)
                        r0 += rows
                    }
                } }
            } } }
        }
        return out
    }

    /// Nearest-neighbour 2× upsampling of NCHW to `height`×`width` (defaults to exactly 2×).
    public static func upsampleNearest(_ x: Tensor, height: Int? = nil, width: Int? = nil) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let oh = height ?? 2 * h, ow = width ?? 2 * w
        return Tensor(shape: [n, c, oh, ow]) { out in
            x.withUnsafeBufferPointer { px in
                for p in 0..<(n * c) {
                    let src = px.baseAddress! + p * h * w, dst = out.baseAddress! + p * oh * ow
                    for oy in 0..<oh {
                        let iy = min(h - 1, Int(Double(oy) * Double(h) / Double(oh)))
                        for ox in 0..<ow { dst[oy * ow + ox] = src[iy * w + min(w - 1, Int(Double(ox) * Double(w) / Double(ow)))] }
                    }
                }
            }
        }
    }

    /// SiLU, x·sigmoid(x).
    public static func silu(_ x: Tensor) -> Tensor { vectorMap(x, FastMath.silu) }

    /// GELU with the erf form (PyTorch's default), erf to 2e-7.
    public static func gelu(_ x: Tensor) -> Tensor { vectorMap(x, FastMath.gelu) }

    /// CLIP's quick GELU, x·sigmoid(1.702x).
    public static func quickGelu(_ x: Tensor) -> Tensor { vectorMap(x) { $0 / (1 + FastMath.exp(-1.702 * $0)) } }

    static func vectorMap(_ x: Tensor, _ f: (FastMath.V) -> FastMath.V) -> Tensor {
        Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { src in FastMath.apply(src.baseAddress!, out.baseAddress!, count: out.count, f) }
        }
    }

    /// GEGLU: for x [.., 2·n] returns x[.., :n] · gelu(x[.., n:]).
    public static func geglu(_ x: Tensor) -> Tensor {
        let two = x.shape.last!, half = two / 2
        let rows = x.count / two
        var shape = x.shape
        shape[shape.count - 1] = half
        return Tensor(shape: shape) { out in
            x.withUnsafeBufferPointer { px in
                for r in 0..<rows {
                    let src = px.baseAddress! + r * two, dst = out.baseAddress! + r * half
                    FastMath.apply(src + half, dst, count: half, FastMath.gelu)
                    for i in 0..<half { dst[i] *= src[i] }
                }
            }
        }
    }
}
