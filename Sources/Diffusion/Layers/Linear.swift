public import Tensor

/// PyTorch `nn.Linear`: y = x·Wᵀ + b over the last dimension.
public struct Linear: Sendable {
    public let weight: Tensor
    public let bias: Tensor?

    /// Loads `<scope>.weight` [out, in] and, when `bias`, `<scope>.bias` [out].
    public init(_ w: Weights, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) throws {
        weight = try w.load("weight", shape: [outFeatures, inFeatures])
        bias = hasBias ? try w.load("bias", shape: [outFeatures]) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { Kernels.linear(x, weight: weight, bias: bias) }
}
