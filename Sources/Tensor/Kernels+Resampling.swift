/// Spatial resampling.
extension Kernels {
    /// Nearest-neighbour 2× upsampling of NCHW to `height`×`width` (defaults to exactly 2×).
    public static func upsampleNearest(_ x: Tensor, height: Int? = nil, width: Int? = nil) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let oh = height ?? 2 * h, ow = width ?? 2 * w
        // Source column and row of each output position, as PyTorch's 'nearest' computes them.
        let columns = (0..<ow).map { min(w - 1, Int(Double($0) * Double(w) / Double(ow))) }
        let rows = (0..<oh).map { min(h - 1, Int(Double($0) * Double(h) / Double(oh))) }
        return Tensor(shape: [n, c, oh, ow]) { out in
            x.withUnsafeBufferPointer { px in
                Parallel.forRanges(n * c, minimum: max(1, 65_536 / max(oh * ow, 1))) { planes in
                    for p in planes {
                        let src = px.baseAddress! + p * h * w, dst = out.baseAddress! + p * oh * ow
                        for oy in 0..<oh {
                            let row = dst + oy * ow
                            if oy > 0 && rows[oy] == rows[oy - 1] {
                                row.update(from: row - ow, count: ow)   // the same source row as the line above
                                continue
                            }
                            let line = src + rows[oy] * w
                            for ox in 0..<ow { row[ox] = line[columns[ox]] }
                        }
                    }
                }
            }
        }
    }
}
