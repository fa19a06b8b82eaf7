/// Architectures of well-known checkpoints, for benchmarks and single-file defaults.
public enum StandardConfigs {
    /// Stable Diffusion 1.5's UNet (runwayml/stable-diffusion-v1-5 `unet/config.json`).
    public static let sd15UNet = UNetConfig(
        sampleSize: 64, inChannels: 4, outChannels: 4, blockOutChannels: [320, 640, 1280, 1280],
        downHasAttention: [true, true, true, false], upHasAttention: [false, true, true, true],
        layersPerBlock: 2, heads: [8, 8, 8, 8], crossAttentionDim: 768, normGroups: 32, linearProjection: false)

    /// Stable Diffusion 1.5's VAE.
    public static let sd15VAE = VAEConfig(blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, normGroups: 32)

    /// CLIP ViT-L/14 text tower.
    public static let clipViTL14 = CLIPTextConfig(vocabSize: 49408, hiddenSize: 768, intermediateSize: 3072, layers: 12, heads: 12)
}
