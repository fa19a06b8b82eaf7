public import Tensor

/// diffusers `ResnetBlock2D` (time-scale-shift "default", output scale 1).
public struct ResnetBlock2D: Sendable {
    let norm1: GroupNorm, conv1: Conv2d, norm2: GroupNorm, conv2: Conv2d
    let timeEmbProj: Linear?
    let shortcut: Conv2d?

    public init(_ w: Weights, in inChannels: Int, out outChannels: Int, temb: Int?, groups: Int, eps: Float) throws {
        norm1 = try GroupNorm(w["norm1"], channels: inChannels, groups: groups, eps: eps)
        conv1 = try Conv2d(w["conv1"], in: inChannels, out: outChannels, kernel: 3, padding: 1)
        timeEmbProj = try temb.map { try Linear(w["time_emb_proj"], in: $0, out: outChannels) }
        norm2 = try GroupNorm(w["norm2"], channels: outChannels, groups: groups, eps: eps)
        conv2 = try Conv2d(w["conv2"], in: outChannels, out: outChannels, kernel: 3, padding: 1)
        shortcut = inChannels == outChannels ? nil : try Conv2d(w["conv_shortcut"], in: inChannels, out: outChannels, kernel: 1)
    }

    /// - Parameters:
    ///   - x: [B, C, H, W].
    ///   - temb: SiLU(time embedding) [B, T], or nil.
    public func callAsFunction(_ x: Tensor, temb: Tensor?) -> Tensor {
        var h = conv1(norm1(x, silu: true))
        if let timeEmbProj, let temb {
            let t = timeEmbProj(temb)  // [B, C]
            let b = h.shape[0], c = h.shape[1], hw = h.shape[2] * h.shape[3]
            h.withUnsafeMutableBufferPointer { ph in
                t.withUnsafeBufferPointer { pt in
                    for i in 0..<b { for ch in 0..<c {
                        let v = pt[i * c + ch], base = (i * c + ch) * hw
                        for k in 0..<hw { ph[base + k] += v }
                    } }
                }
            }
        }
        h = conv2(norm2(h, silu: true))
        h.add(shortcut.map { $0(x) } ?? x)
        return h
    }
}
