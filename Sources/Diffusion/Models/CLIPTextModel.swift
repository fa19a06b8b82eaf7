import Foundation
public import Tensor

/// transformers `CLIPTextConfig`, the parts that shape the network.
public struct CLIPTextConfig: Sendable, Equatable, Decodable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var maxPositions: Int
    public var activation: String
    public var layerNormEps: Float

    public init(vocabSize: Int = 49408, hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int,
                maxPositions: Int = 77, activation: String = "quick_gelu", layerNormEps: Float = 1e-5) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
        self.maxPositions = maxPositions
        self.activation = activation
        self.layerNormEps = layerNormEps
    }

    /// Reads `text_encoder/config.json`.
    /// - Throws: `ModelError` naming the file and the key that is malformed or unsupported.
    public init(_ file: ConfigFile) throws { self = try file.decode() }

    /// Decodes transformers' `CLIPTextConfig` keys, absent ones taking transformers' defaults.
    public init(from decoder: any Decoder) throws {
        let c = try ConfigReader(decoder, errors: .model)
        vocabSize = try c("vocab_size", default: 49408)
        hiddenSize = try c("hidden_size", default: 512)
        intermediateSize = try c("intermediate_size", default: 2048)
        layers = try c("num_hidden_layers", default: 12)
        heads = try c("num_attention_heads", default: 8)
        maxPositions = try c("max_position_embeddings", default: 77)
        activation = try c("hidden_act", default: "quick_gelu")
        layerNormEps = Float(try c("layer_norm_eps", default: 1e-5 as Double))
        guard ["quick_gelu", "gelu"].contains(activation) else {
            throw ModelError(code: .unsupported, origin: c.path, tensor: "hidden_act", message: "\(activation) is not supported (quick_gelu, gelu)")
        }
        guard heads > 0, hiddenSize % heads == 0 else {
            throw ModelError(code: .badConfig, origin: c.path, tensor: "num_attention_heads", message: "hidden_size \(hiddenSize) does not divide into \(heads) heads")
        }
    }
}

/// transformers `CLIPTextModel`: token ids → `last_hidden_state` (the SD conditioning).
public struct CLIPTextModel: Sendable {
    public let config: CLIPTextConfig

    struct Layer: Sendable {
        /// q, k and v projections stacked: one GEMM per layer instead of three (M is only 2 × 77 rows here).
        let ln1: LayerNorm, qkv: Linear, out: Linear, ln2: LayerNorm, fc1: Linear, fc2: Linear
    }

    let tokenEmbedding: Tensor
    let positionEmbedding: Tensor
    let layers: [Layer]
    let finalNorm: LayerNorm

    /// Loads weights named `text_model.*` (transformers 4 files) or without that prefix (transformers 5 files).
    public init(config: CLIPTextConfig, weights root: Weights) throws {
        self.config = config
        let w = root.contains("embeddings.token_embedding.weight") ? root : root["text_model"]
        let d = config.hiddenSize
        tokenEmbedding = try w.load("embeddings.token_embedding.weight", shape: [config.vocabSize, d])
        positionEmbedding = try w.load("embeddings.position_embedding.weight", shape: [config.maxPositions, d])
        layers = try (0..<config.layers).map { i in
            let l = w["encoder.layers.\(i)"]
            return Layer(ln1: try LayerNorm(l["layer_norm1"], dim: d, eps: config.layerNormEps),
                         qkv: .stacked(try ["q_proj", "k_proj", "v_proj"].map { try Linear(l["self_attn.\($0)"], in: d, out: d) }),
                         out: try Linear(l["self_attn.out_proj"], in: d, out: d),
                         ln2: try LayerNorm(l["layer_norm2"], dim: d, eps: config.layerNormEps),
                         fc1: try Linear(l["mlp.fc1"], in: d, out: config.intermediateSize),
                         fc2: try Linear(l["mlp.fc2"], in: config.intermediateSize, out: d))
        }
        finalNorm = try LayerNorm(w["final_layer_norm"], dim: d, eps: config.layerNormEps)
    }

    /// Encodes a batch of equally long id sequences to [B, N, hidden].
    public func callAsFunction(_ ids: [[Int]]) throws -> Tensor {
        let d = config.hiddenSize
        let n = ids.first?.count ?? 0
        guard n <= config.maxPositions, ids.allSatisfy({ $0.count == n }) else {
            throw ModelError(code: .badParameter, origin: "text encoder", message: "token sequences must all have the same length ≤ \(config.maxPositions)")
        }
        if let bad = ids.joined().first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw ModelError(code: .badParameter, origin: "text encoder", message: "token id \(bad) is outside the vocabulary (size \(config.vocabSize)); the tokenizer does not match the text encoder")
        }
        BLASRuntime.prepare(idleSpin: .forTypicalGEMM(2 * Double(ids.count * n) * Double(d) * Double(d)))
        var x = Tensor(shape: [ids.count, n, d]) { out in
            tokenEmbedding.withUnsafeBufferPointer { te in positionEmbedding.withUnsafeBufferPointer { pe in
                for (b, seq) in ids.enumerated() {
                    for (p, id) in seq.enumerated() {
                        let dst = out.baseAddress! + (b * n + p) * d
                        for i in 0..<d { dst[i] = te[id * d + i] + pe[p * d + i] }
                    }
                }
            } }
        }
        for layer in layers {
            let h = layer.ln1(x)
            x.add(layer.out(Kernels.attention(packedQKV: layer.qkv(h), heads: config.heads, causal: true)))
            let m = layer.fc1(layer.ln2(x))
            x.add(layer.fc2(config.activation == "gelu" ? Kernels.gelu(m) : Kernels.quickGelu(m)))
        }
        return finalNorm(x)
    }
}
