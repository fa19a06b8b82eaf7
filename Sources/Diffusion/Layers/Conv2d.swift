public import Tensor

/// PyTorch `nn.Conv2d` with square kernels, zero padding, NCHW.
public struct Conv2d: Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(_ w: Weights, in inChannels: Int, out outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) throws {
        weight = try w.load("weight", shape: [outChannels, inChannels, kernel, kernel])
        bias = try w.load("bias", shape: [outChannels])
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        Kernels.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// The convolution after padding only the bottom and right by one (diffusers' VAE encoder downsampler).
    public func paddedBottomRight(_ x: Tensor) -> Tensor {
        Kernels.conv2d(x, weight: weight, bias: bias, stride: stride, padding: 0, extraPadEnd: 1)
    }
}
