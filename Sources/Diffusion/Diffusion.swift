/// Stable Diffusion 1.x/2.x text-to-image on the CPU: weights, tokenizer, text encoder, UNet, VAE,
/// samplers, torch-compatible RNG and the pipeline that ties them together.
public enum Diffusion {
    /// The release this library belongs to.
    public static let version = "0.1.0"
}
