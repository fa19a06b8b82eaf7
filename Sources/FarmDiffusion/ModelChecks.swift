import Diffusion
import Foundation
import RenderFormat
import Synchronization
public import Farm

/// Submit-time checks that need the model: its configs (or single-file header) must be readable and every
/// job must fit it (size a multiple of its VAE factor, steps within its training timesteps), so workers
/// never discover bad parameters. Reads no weights.
public enum ModelChecks {
    /// Checks one job against its model.
    /// - Throws: `ModelError`/`SafeTensorsError` when the model cannot be inspected; `RenderFormatError.invalid`
    ///   naming the input that does not fit.
    /// - Parameter loraDirectory: where `<lora:name:…>` tags in the prompt are looked up (as the submitter sees
    ///   the workers' LoRA folder); a tag without a folder, or a name not in it, is an error.
    public static func validate(_ job: RenderParameters, loraDirectory: String? = nil) throws {
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
        // Every LoRA, named by --lora or by a prompt tag, must exist and fit this model (checked once per file and model).
        var loras = job.loras
        loras += try PromptLoRATags.resolve(job.prompt, directory: loraDirectory)
        if case .interpolation(let frame) = job.kind { loras += try PromptLoRATags.resolve(frame.target, directory: loraDirectory) }
        for lora in loras {
            let key = "\(job.model)\u{0}\(lora.path)"
            if checkedLoRAs.withLock({ $0.contains(key) }) { continue }
            guard FileManager.default.fileExists(atPath: lora.path) else {
                throw RenderFormatError.invalid(.lora, "file \(lora.path) does not exist")
            }
            try LoRAFile(path: lora.path).check(model: job.model)
            checkedLoRAs.withLock { _ = $0.insert(key) }
        }
    }

    /// (model, LoRA) pairs already found to fit, so a grid checks each file once.
    private static let checkedLoRAs = Mutex<Set<String>>([])
}
