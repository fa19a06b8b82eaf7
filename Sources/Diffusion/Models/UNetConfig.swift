/// The parts of diffusers' `UNet2DConditionModel` config that shape the network.
public struct UNetConfig: Sendable, Equatable, Decodable {
    public var sampleSize: Int
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    /// Per level: does the down block (and its mirror up block) have cross-attention transformers?
    public var downHasAttention: [Bool]
    public var upHasAttention: [Bool]
    public var layersPerBlock: Int
    /// Attention heads per level (diffusers' legacy `attention_head_dim` means the head count).
    public var heads: [Int]
    public var crossAttentionDim: Int
    public var normGroups: Int
    public var normEps: Float
    public var linearProjection: Bool
    public var transformerLayers: Int
    public var midHasAttention: Bool
    /// Time embedding: `[cos, sin]` order when true (SD), and the frequency shift.
    public var flipSinToCos: Bool = true
    public var freqShift: Double = 0
    /// LCM-distilled UNets: the width of the guidance-scale embedding added to the time embedding
    /// (`time_cond_proj_dim`); nil for ordinary UNets.
    public var timeCondProjDim: Int?

    public init(sampleSize: Int, inChannels: Int, outChannels: Int, blockOutChannels: [Int], downHasAttention: [Bool],
                upHasAttention: [Bool], layersPerBlock: Int, heads: [Int], crossAttentionDim: Int, normGroups: Int,
                normEps: Float = 1e-5, linearProjection: Bool, transformerLayers: Int = 1, midHasAttention: Bool = true) {
        self.sampleSize = sampleSize
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.blockOutChannels = blockOutChannels
        self.downHasAttention = downHasAttention
        self.upHasAttention = upHasAttention
        self.layersPerBlock = layersPerBlock
        self.heads = heads
        self.crossAttentionDim = crossAttentionDim
        self.normGroups = normGroups
        self.normEps = normEps
        self.linearProjection = linearProjection
        self.transformerLayers = transformerLayers
        self.midHasAttention = midHasAttention
    }

    /// Reads `unet/config.json`.
    /// - Throws: `ModelError` naming the file and the key that is missing, malformed or unsupported.
    public init(_ file: ConfigFile) throws { self = try file.decode() }

    /// Decodes diffusers' `UNet2DConditionModel` config keys, absent ones taking diffusers' defaults.
    public init(from decoder: any Decoder) throws {
        let c = try ConfigReader(decoder, errors: .model)
        let blocks: [Int] = try c.required("block_out_channels")
        let levels = blocks.count
        let down: [String] = try c.required("down_block_types")
        let up: [String] = try c.required("up_block_types")
        guard down.count == levels, up.count == levels, levels >= 1 else {
            throw ModelError(code: .badConfig, origin: c.path, tensor: "down_block_types",
                             message: "need one down and one up block type per entry of block_out_channels (\(levels))")
        }
        func attention(_ types: [String], known: [String: Bool], key: String) throws -> [Bool] {
            try types.map { t in
                guard let v = known[t] else {
                    throw ModelError(code: .unsupported, origin: c.path, tensor: key, message: "block type \(t) is not supported (supported: \(known.keys.sorted().joined(separator: ", ")))")
                }
                return v
            }
        }
        downHasAttention = try attention(down, known: ["CrossAttnDownBlock2D": true, "DownBlock2D": false], key: "down_block_types")
        upHasAttention = try attention(up, known: ["CrossAttnUpBlock2D": true, "UpBlock2D": false], key: "up_block_types")
        sampleSize = try c("sample_size", default: 64)
        inChannels = try c("in_channels", default: 4)
        outChannels = try c("out_channels", default: 4)
        blockOutChannels = blocks
        layersPerBlock = try c("layers_per_block", default: 2)
        if c.has("num_attention_heads") {
            heads = try c.intOrList("num_attention_heads", levels: levels)
        } else {
            heads = try c.intOrList("attention_head_dim", levels: levels, default: 8)
        }
        crossAttentionDim = try c("cross_attention_dim", default: 1280)
        normGroups = try c("norm_num_groups", default: 32)
        normEps = Float(try c("norm_eps", default: 1e-5 as Double))
        linearProjection = try c("use_linear_projection", default: false)
        transformerLayers = try c("transformer_layers_per_block", default: 1)
        let mid = try c("mid_block_type", default: "UNetMidBlock2DCrossAttn")
        guard mid == "UNetMidBlock2DCrossAttn" else {
            throw ModelError(code: .unsupported, origin: c.path, tensor: "mid_block_type", message: "\(mid) is not supported")
        }
        midHasAttention = true
        flipSinToCos = try c("flip_sin_to_cos", default: true)
        freqShift = try c("freq_shift", default: 0 as Double)
        timeCondProjDim = try c.optional("time_cond_proj_dim", as: Int.self)
        if let d = timeCondProjDim, d <= 0 {
            throw ModelError(code: .badConfig, origin: c.path, tensor: "time_cond_proj_dim", message: "must be positive, got \(d)")
        }
        for key in ["class_embed_type", "addition_embed_type", "encoder_hid_dim"] where c.has(key) {
            throw ModelError(code: .unsupported, origin: c.path, tensor: key, message: "SDXL-style conditioning is not supported")
        }
        if try c("resnet_time_scale_shift", default: "default") != "default" || (try c("center_input_sample", default: false)) {
            throw ModelError(code: .unsupported, origin: c.path, message: "resnet_time_scale_shift/center_input_sample variants are not supported")
        }
    }

    /// Spatial downsampling of the UNet (2^(levels−1)).
    public var downsampleFactor: Int { 1 << (blockOutChannels.count - 1) }
}
