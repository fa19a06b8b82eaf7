public import Tensor

/// PyTorch `nn.LayerNorm` over the last dimension.
public struct LayerNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ w: Weights, dim: Int, eps: Float) throws {
        weight = try w.load("weight", shape: [dim])
        bias = try w.load("bias", shape: [dim])
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { Kernels.layerNorm(x, weight: weight, bias: bias, eps: eps) }
}
