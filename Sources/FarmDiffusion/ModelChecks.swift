import Diffusion
import RenderFormat
public import Farm

/// Submit-time checks that need the model: its configs (or single-file header) must be readable and every
/// job must fit it (size a multiple of its VAE factor, steps within its training timesteps), so workers
/// never discover bad parameters. Reads no weights.
public enum ModelChecks {
    /// Checks one job against its model.
    /// - Throws: `ModelError`/`SafeTensorsError` when the model cannot be inspected; `RenderFormatError.invalid`
    ///   naming the input that does not fit.
    public static func validate(_ job: RenderParameters) throws {
        let summary = try ModelSummary.inspect(path: job.model)
        // The init image's own size was checked when it was stored; its strength is checked by the job's validate().
        try RenderRequest(job: job, initImage: nil).validate(vaeFactor: summary.vaeFactor)
        // The sampler set up as a worker will set it up (e.g. lcm takes at most original_inference_steps).
        _ = try makeScheduler(job.sampler, config: summary.schedulerConfig, steps: job.steps)
        if job.promptSyntax == .a1111 {
            // A weight A1111 cannot read fails here, not on a worker.
            var texts: [(String, RenderInput)] = [(job.prompt, .prompt), (job.negativePrompt, .negativePrompt)]
            if case .interpolation(let frame) = job.kind { texts.append((frame.target, .interpolate)) }
            for (text, input) in texts { _ = try A1111PromptParser.parse(text, as: input) }
        }
    }
}
