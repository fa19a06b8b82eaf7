/// The parts of diffusers' `UNet2DConditionModel` config that shape the network.
public struct UNetConfig: Sendable, Equatable {
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
    public init(_ c: ConfigFile) throws {
        let blocks = try c.ints("block_out_channels")
        let levels = blocks.count
        let down = try c.strings("down_block_types")
        let up = try c.strings("up_block_types")
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
        sampleSize = try c.int("sample_size", default: 64)
        inChannels = try c.int("in_channels", default: 4)
        outChannels = try c.int("out_channels", default: 4)
        blockOutChannels = blocks
        layersPerBlock = try c.int("layers_per_block", default: 2)
        if c.has("num_attention_heads") {
            heads = try c.intOrList("num_attention_heads", levels: levels)
        } else {
            heads = try c.intOrList("attention_head_dim", levels: levels, default: 8)
        }
        crossAttentionDim = try c.int("cross_attention_dim", default: 1280)
        normGroups = try c.int("norm_num_groups", default: 32)
        normEps = Float(try c.double("norm_eps", default: 1e-5))
        linearProjection = try c.bool("use_linear_projection", default: false)
        transformerLayers = try c.int("transformer_layers_per_block", default: 1)
        let mid = try c.string("mid_block_type", default: "UNetMidBlock2DCrossAttn")
        guard mid == "UNetMidBlock2DCrossAttn" else {
            throw ModelError(code: .unsupported, origin: c.path, tensor: "mid_block_type", message: "\(mid) is not supported")
        }
        midHasAttention = true
        flipSinToCos = try c.bool("flip_sin_to_cos", default: true)
        freqShift = try c.double("freq_shift", default: 0)
        for key in ["class_embed_type", "addition_embed_type", "encoder_hid_dim"] where c.has(key) {
            throw ModelError(code: .unsupported, origin: c.path, tensor: key, message: "SDXL-style conditioning is not supported")
        }
        if try c.string("resnet_time_scale_shift", default: "default") != "default" || (try c.bool("center_input_sample", default: false)) {
            throw ModelError(code: .unsupported, origin: c.path, message: "resnet_time_scale_shift/center_input_sample variants are not supported")
        }
    }

    /// Spatial downsampling of the UNet (2^(levels−1)).
    public var downsampleFactor: Int { 1 << (blockOutChannels.count - 1) }
}
