public import Tensor

/// diffusers `Attention` (to_q/to_k/to_v/to_out.0) over token sequences [B, N, C].
public struct Attention: Sendable {
    public let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    public let heads: Int

    /// - Parameters:
    ///   - queryDim: channels of the input sequence.
    ///   - contextDim: channels of the context (cross-attention), or nil for self-attention.
    ///   - heads: number of heads; `queryDim` must divide by it.
    ///   - qkvBias: whether to_q/k/v carry biases (VAE: yes, UNet: no).
    public init(_ w: Weights, queryDim: Int, contextDim: Int?, heads: Int, headDim: Int, qkvBias: Bool) throws {
        let inner = heads * headDim
        toQ = try Linear(w["to_q"], in: queryDim, out: inner, bias: qkvBias)
        toK = try Linear(w["to_k"], in: contextDim ?? queryDim, out: inner, bias: qkvBias)
        toV = try Linear(w["to_v"], in: contextDim ?? queryDim, out: inner, bias: qkvBias)
        toOut = try Linear(w["to_out.0"], in: inner, out: queryDim)
        self.heads = heads
    }

    public func callAsFunction(_ x: Tensor, context: Tensor? = nil) -> Tensor {
        let ctx = context ?? x
        let o = Kernels.attention(q: toQ(x), k: toK(ctx), v: toV(ctx), heads: heads)
        return toOut(o)
    }
}
