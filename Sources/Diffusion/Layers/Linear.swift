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

    /// A layer from tensors already loaded.
    public init(weight: Tensor, bias: Tensor?) {
        self.weight = weight
        self.bias = bias
    }

    /// One layer computing `layers` side by side: weights stacked along the output dimension, so one GEMM
    /// gives each layer's output in consecutive columns (all with a bias, or none).
    public static func stacked(_ layers: [Linear]) -> Linear {
        precondition(!layers.isEmpty && layers.allSatisfy { $0.weight.shape[1] == layers[0].weight.shape[1] && ($0.bias == nil) == (layers[0].bias == nil) },
                     "Linear.stacked: layers differ in input size or bias")
        func concatenate(_ parts: [Tensor], shape: [Int]) -> Tensor {
            Tensor(shape: shape) { out in
                var offset = 0
                for p in parts { p.withUnsafeBufferPointer { (out.baseAddress! + offset).update(from: $0.baseAddress!, count: $0.count) }; offset += p.count }
            }
        }
        let outFeatures = layers.map { $0.weight.shape[0] }.reduce(0, +)
        return Linear(weight: concatenate(layers.map(\.weight), shape: [outFeatures, layers[0].weight.shape[1]]),
                      bias: layers[0].bias == nil ? nil : concatenate(layers.compactMap(\.bias), shape: [outFeatures]))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { Kernels.linear(x, weight: weight, bias: bias) }
}
