/// Spatial resampling.
extension Kernels {
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
}
