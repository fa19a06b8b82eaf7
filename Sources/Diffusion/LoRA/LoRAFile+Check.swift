import Foundation

extension LoRAFile {
    /// Checks that every layer of this LoRA exists in the model at `path` with a fitting shape, reading only the
    /// model's tensor headers (submit-time checks).
    /// - Throws: `ModelError` naming the layer that does not fit (a LoRA for another architecture), or the model's.
    public func check(model path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelError(code: .missingFile, origin: path, message: "model path does not exist")
        }
        let sources: [(Component, any WeightSource, [String])]
        if isDir.boolValue {
            func sub(_ s: String) -> String { (path as NSString).appendingPathComponent(s) }
            let unet = try StableDiffusionModel.weightFile(in: sub("unet"), names: ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"])
            let text = try StableDiffusionModel.weightFile(in: sub("text_encoder"), names: ["model.safetensors", "model.fp16.safetensors"])
            sources = [(.unet, unet, unet.names), (.textEncoder, text, text.names)]
        } else {
            let file = try SafeTensorsFile(path: path)
            let checkpoint = try SingleFileCheckpoint(source: file, names: file.names)
            sources = [(.unet, checkpoint.unet, checkpoint.unet.names), (.textEncoder, checkpoint.textEncoder, checkpoint.textEncoder.names)]
        }
        for (component, source, names) in sources {
            _ = try LoRAMergedWeights.targets(self, component: component, shapes: source.shape(of:), names: names)
        }
    }
}
