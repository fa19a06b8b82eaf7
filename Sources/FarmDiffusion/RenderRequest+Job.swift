public import Diffusion
public import Farm
public import Imaging

/// The one mapping from a farm job to an engine request.
extension RenderRequest {
    /// The engine request for `job`. An image-to-image job renders from `initImage` (its picture, read from
    /// shared storage by the caller); without one the request has no init image (enough for submit-time checks).
    public init(job: RenderParameters, initImage: RGBImage?) {
        self.init(prompt: job.prompt, negativePrompt: job.negativePrompt, seed: job.seed, steps: job.steps, sampler: job.sampler,
                  cfgScale: Float(job.cfgScale), width: job.width, height: job.height,
                  promptSyntax: job.promptSyntax, loras: job.loras)
        switch job.kind {
        case .txt2img:
            break
        case .img2img(_, let strength):
            self.initImage = initImage.map { InitImage(image: $0, strength: strength) }
        case .interpolation(let frame):
            interpolation = PromptInterpolation(target: frame.target, t: frame.t, linear: frame.method == .lerp)
        }
    }
}
