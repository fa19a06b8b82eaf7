internal import CKernels
import Foundation

/// 3×3 stride-1 convolutions through Winograd F(2,3) and F(4,3) (Lavin & Gray 2016).
///
/// Per output tile of m×m pixels, F(m,3) needs (m+2)² multiplications per input/output channel pair instead
/// of 9·m²: 2.25× fewer for F(2,3), 4× fewer for F(4,3). The element-wise products of all tiles become
/// (m+2)² GEMMs [Cout × Cin]·[Cin × tiles] (OpenBLAS, one whole GEMM per thread: `BLAS.independent`); the
/// input and output transforms are C kernels (`CKernels`, runtime-dispatched) on every thread, with the bias
/// added in the output transform.
/// Weights are transformed on the fly per call (cheap next to the GEMMs, and no second copy of the model
/// stays in memory); tiles and output channels are processed in blocks so no scratch buffer exceeds 40 MB.
extension Kernels {
    /// How a convolution is computed.
    public enum ConvAlgorithm: String, Sendable, CaseIterable {
        /// im2col + GEMM (every shape).
        case direct
        /// Winograd F(2,3) (3×3, stride 1).
        case winogradF23 = "f23"
        /// Winograd F(4,3) (3×3, stride 1).
        case winogradF43 = "f43"

        var tile: Int { self == .winogradF43 ? 4 : 2 }
    }

    /// `SDFARM_CONV`: `direct` forces im2col + GEMM everywhere, `f23`/`f43` force that Winograd variant
    /// on every 3×3 stride-1 layer, `auto` (default) chooses per layer.
    public static let convOverride: ConvAlgorithm? =
        ProcessInfo.processInfo.environment["SDFARM_CONV"].flatMap(ConvAlgorithm.init(rawValue:))

    /// The algorithm `conv2d` uses for a 3×3 stride-1 layer with this output size: F(4,3) on maps of at
    /// least 40×40 (16×16 on the AVX-512 path, whose CPUs run the 36 thinner GEMMs of F(4,3) faster than
    /// F(2,3)'s 16 there), F(2,3) down to 12×12, im2col below, where the GEMMs over few tiles lose to one
    /// im2col GEMM (measured per path: `sdfarm bench --components kernels`). The choice depends only on the
    /// shape and the kernel path, so a machine renders the same seed the same way every time.
    public static func convAlgorithm(channelsIn cin: Int, channelsOut cout: Int, outHeight oh: Int, outWidth ow: Int) -> ConvAlgorithm {
        if let forced = convOverride { return forced }
        let side = min(oh, ow)
        if cin < 8 || cout < 8 { return .direct }
        if side >= (KernelPath.active == .avx512 ? 16 : 40) { return .winogradF43 }
        if side >= 12 { return .winogradF23 }
        return .direct
    }

    /// 3×3 stride-1 convolution with zero padding `padding` (0 or 1) through Winograd F(`algorithm`).
    public static func winogradConv3x3(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int, algorithm: ConvAlgorithm) -> Tensor {
        precondition(algorithm != .direct && weight.shape.count == 4 && weight.shape[2] == 3 && weight.shape[3] == 3
                     && x.shape.count == 4 && x.shape[1] == weight.shape[1], "winogradConv3x3: input \(x.shape) vs weight \(weight.shape)")
        let n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3], cout = weight.shape[0]
        let m = algorithm.tile, alpha2 = (m + 2) * (m + 2)
        let oh = h + 2 * padding - 2, ow = w + 2 * padding - 2
        let tilesY = (oh + m - 1) / m, tilesX = (ow + m - 1) / m
        let tileRows = n * tilesY
        let floatBudget = 4 << 20   // 16 MB for the transformed inputs and for the products
        let weightBudget = 10 << 20 // 40 MB of transformed weights (a 512→512 F(4,3) layer's 38 MB are transformed once)
        // Output channels in equal blocks (multiples of 16) when all transformed weights exceed the budget.
        let coBlocks = (alpha2 * cout * cin + weightBudget - 1) / weightBudget
        let coBlock = coBlocks <= 1 ? cout : min(cout, max(16, ((cout + coBlocks - 1) / coBlocks + 15) / 16 * 16))
        let rowsPerChunk = max(1, min(tileRows, floatBudget / max(1, alpha2 * max(cin, coBlock) * tilesX)))
        let chunkTiles = rowsPerChunk * tilesX
        let (uCount, vCount, mCount) = (alpha2 * coBlock * cin, alpha2 * cin * chunkTiles, alpha2 * coBlock * chunkTiles)
        let u = BufferPool.allocate(count: uCount), v = BufferPool.allocate(count: vCount), mm = BufferPool.allocate(count: mCount)
        defer { BufferPool.release(u, count: uCount); BufferPool.release(v, count: vCount); BufferPool.release(mm, count: mCount) }
        var y = Tensor(uninitializedShape: [n, cout, oh, ow])

        func transformWeights(_ pw: UnsafePointer<Float>, _ c0: Int, _ c1: Int) {
            let ldE = (c1 - c0) * cin
            // Streaming stores beyond 8 MB (more than the L2 caches hold): measured faster for the U-Net's
            // 1280-channel F(4,3) layers, slower for the VAE's 128-channel ones, whose 2.4 MB stay cached.
            let stream: Int32 = alpha2 * ldE >= 2 << 20 ? 1 : 0
            Parallel.forRanges(c1 - c0, minimum: 8) { r in
                sdk_winograd_weights(Int32(m), pw, Int32(cin), Int32(c0 + r.lowerBound), Int32(c0 + r.upperBound),
                                     u + r.lowerBound * cin, ldE, stream)
            }
        }
        y.withUnsafeMutableBufferPointer { py in
            x.withUnsafeBufferPointer { px in weight.withUnsafeBufferPointer { pw in withOptionalPointer(bias) { pb in
                if coBlock == cout { transformWeights(pw.baseAddress!, 0, cout) }
                var r0 = 0
                while r0 < tileRows {
                    let r1 = min(tileRows, r0 + rowsPerChunk), rows = r1 - r0, tiles = rows * tilesX
                    let cGroup = max(1, min(cin, 64))
                    let cGroups = (cin + cGroup - 1) / cGroup
                    Parallel.forEach(rows * cGroups) { item in
                        let row = r0 + item / cGroups, c0 = (item % cGroups) * cGroup
                        let b = row / tilesY, ty = row % tilesY
                        sdk_winograd_input(Int32(m), px.baseAddress! + b * cin * h * w, Int32(h), Int32(w), Int32(padding),
                                           Int32(c0), Int32(min(cin, c0 + cGroup)), Int32(ty), Int32(tilesX),
                                           v, cin * tiles, tiles, (row - r0) * tilesX)
                    }
                    var cb0 = 0
                    while cb0 < cout {
                        let cb1 = min(cout, cb0 + coBlock), cbn = cb1 - cb0
                        if coBlock != cout { transformWeights(pw.baseAddress!, cb0, cb1) }
                        BLAS.independent(alpha2) { e in
                            BLAS.sgemm(m: cbn, n: tiles, k: cin, a: u + e * cbn * cin, lda: cin,
                                       b: v + e * cin * tiles, ldb: tiles, c: mm + e * cbn * tiles, ldc: tiles)
                        }
                        let oGroup = max(1, min(cbn, 16))
                        let oGroups = (cbn + oGroup - 1) / oGroup
                        Parallel.forEach(rows * oGroups) { item in
                            let row = r0 + item / oGroups, o0 = cb0 + (item % oGroups) * oGroup
                            let b = row / tilesY, ty = row % tilesY
                            sdk_winograd_output(Int32(m), mm + (o0 - cb0) * tiles, cbn * tiles, tiles, (row - r0) * tilesX,
                                                Int32(o0), Int32(min(cb1, o0 + oGroup)), py.baseAddress! + b * cout * oh * ow,
                                                Int32(oh), Int32(ow), Int32(ty), Int32(tilesX), pb)
                        }
                        cb0 = cb1
                    }
                    r0 = r1
                }
            } } }
        }
        return y
    }

    /// `body` with the tensor's buffer, or nil.
    static func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let t else { return body(nil) }
        return t.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
