public import Tensor

/// PyTorch `nn.GroupNorm` with affine parameters; `silu` fuses the activation that usually follows.
public struct GroupNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let eps: Float

    public init(_ w: Weights, channels: Int, groups: Int, eps: Float) throws {
        guard groups > 0, channels % groups == 0 else {
            throw ModelError(code: .badConfig, origin: w.source.origin, tensor: w.prefix,
                             message: "\(channels) channels cannot be split into \(groups) norm groups (norm_num_groups)")
        }
        weight = try w.load("weight", shape: [channels])
        bias = try w.load("bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor {
        Kernels.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
    }
}
