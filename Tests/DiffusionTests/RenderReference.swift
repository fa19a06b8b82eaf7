import Diffusion
import Foundation
import Imaging
import Testing

/// Renders `request` and checks it against `<name>_latents` / `<name>_image` of a reference file: latents relative
/// error < 1e-3, image per channel max |Δ| ≤ 3 and mean |Δ| ≤ 0.1 (printed with `label`). Returns the image.
@discardableResult
func expectRenderMatchesReference(_ pipeline: StableDiffusionPipeline, _ request: RenderRequest, reference relative: String,
                                  name: String, label: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> RGBImage {
    let latents = try pipeline.denoise(request)
    let ref = try SafeTensorsFile(path: Fixtures.required(relative, sourceLocation: sourceLocation))
    let latentError = NetworkFixtureTests.relativeError(latents, try ref.tensor("\(name)_latents"))
    #expect(latentError < 1e-3, "latents relative error \(latentError)", sourceLocation: sourceLocation)
    let image = pipeline.decode(latents)
    let (maxDiff, mean) = imageDifference(image, try ref.rawBytes("\(name)_image"))
    print("\(label): latents \(latentError), image max \(maxDiff) mean \(mean)")
    #expect(maxDiff <= 3 && mean <= 0.1, "max \(maxDiff) mean \(mean)", sourceLocation: sourceLocation)
    return image
}
