import Diffusion
import Foundation
import RenderFormat
import Tensor
import Testing
import TestSupport

/// LoRA merging against diffusers' `load_lora_weights` + `set_adapters` (diffusers 0.42.1, peft 0.21.2; lora/ from
/// tools/fixtures/make_fixtures.py --only lora): a kohya/A1111 LoRA with LoCon convolutions and a diffusers/PEFT
/// LoRA on tiny-sd-a, at two weights each and together. Acceptance: per channel max |Δ| ≤ 3 and mean |Δ| ≤ 0.1.
@Suite("LoRA matches diffusers")
struct LoRAFixtureTests {
    static let pipeline: StableDiffusionPipeline? = try? StableDiffusionPipeline(model: StableDiffusionModel.load(path: Fixtures.path("models/tiny-sd-a")))

    struct Case: CustomStringConvertible, Sendable {
        let name: String, loras: [LoRAReference], prompt: String, negative: String, seed: UInt64, steps: Int, sampler: String
        let cfg: Float, width: Int, height: Int
        var description: String { "\(name) \(loras.map { "\($0.name):\($0.weight)" })" }
    }

    static func cases() throws -> [Case] {
        try Fixtures.caseList("lora/cases.json", key: "cases").map { c in
            Case(name: c["name"] as! String,
                 loras: (c["loras"] as! [[String: Any]]).map { LoRAReference(path: Fixtures.path("lora/\($0["file"] as! String)"),
                                                                             weight: ($0["weight"] as! NSNumber).doubleValue) },
                 prompt: c["prompt"] as! String, negative: c["negative_prompt"] as! String, seed: UInt64(c["seed"] as! String)!,
                 steps: c["steps"] as! Int, sampler: c["sampler"] as! String, cfg: Float(c["cfg_scale"] as! Double),
                 width: c["width"] as! Int, height: c["height"] as! Int)
        }
    }

    @Test("renders with kohya (LoCon) and PEFT LoRAs, two weights each and both at once, are within 3 / 0.1 of diffusers",
          arguments: try cases())
    // Observed on the 5 renders: latents relative error ≤ 3.8e-6, image max |Δ| 0 and mean |Δ| 0 per channel.
    func render(c: Case) throws {
        let pipeline = try #require(Self.pipeline)
        let request = RenderRequest(prompt: c.prompt, negativePrompt: c.negative, seed: c.seed, steps: c.steps,
                                    sampler: try SamplerKind(parsing: c.sampler), cfgScale: c.cfg, width: c.width, height: c.height,
                                    loras: c.loras)
        let image = try expectRenderMatchesReference(pipeline, request, reference: "lora/pipeline.safetensors", name: c.name,
                                                     label: "lora render \(c)")
        // The LoRA matters: the image is far from the one without it.
        if c.name == "case0" {
            let ref = try SafeTensorsFile(path: Fixtures.required("lora/pipeline.safetensors"))
            let (_, plainMean) = imageDifference(image, try ref.rawBytes("plain_image"))
            #expect(plainMean > 5, "the LoRA changed the image by only \(plainMean) on average")
        }
    }

    @Test("both layouts parse: kohya with alpha and LoCon convolutions, PEFT lora_A/lora_B; every layer lands in the model")
    func layouts() throws {
        let kohya = try LoRAFile(path: Fixtures.path("lora/kohya-locon.safetensors"))
        #expect(kohya.pairs.count == 82 && kohya.pairs.allSatisfy { $0.scale == 0.5 && $0.rank == 4 })
        #expect(kohya.pairs.contains { $0.down.shape.count == 4 && $0.down.shape.suffix(2) == [3, 3] })
        #expect(kohya.pairs.filter { $0.component == .textEncoder }.count == 18)
        let peft = try LoRAFile(path: Fixtures.path("lora/peft.safetensors"))
        #expect(peft.pairs.count == 44 && peft.pairs.allSatisfy { $0.scale == 1 })
        #expect(kohya.shortHash.count == 12 && kohya.shortHash != peft.shortHash)
    }

    @Test("a <lora:name:weight> tag resolved in a LoRA folder renders the same image as the explicit LoRA and is not encoded")
    func promptTag() throws {
        let pipeline = try #require(Self.pipeline)
        let c = try #require(try Self.cases().first)
        let tagged = "<lora:kohya-locon:0.5> " + c.prompt
        let loras = try PromptLoRATags.resolve(tagged, directory: Fixtures.path("lora"))
        #expect(loras == c.loras)
        let viaTag = RenderRequest(prompt: tagged, seed: c.seed, steps: c.steps, sampler: .ddim, cfgScale: c.cfg, width: c.width,
                                   height: c.height, loras: loras)
        let explicit = RenderRequest(prompt: c.prompt, seed: c.seed, steps: c.steps, sampler: .ddim, cfgScale: c.cfg, width: c.width,
                                     height: c.height, loras: c.loras)
        #expect(try pipeline.denoise(viaTag).maxAbsDifference(try pipeline.denoise(explicit)) == 0)
        let text = pipeline.parameters(for: viaTag).a1111Text
        let hash = try LoRAFile(path: c.loras[0].path).shortHash
        #expect(text.contains("Lora hashes: \"kohya-locon: \(hash)\""), "\(text)")
        #expect(text.hasPrefix(tagged))
    }

    @Test("a merged LoRA set is cached: the same set again is the same pipeline, and the base model is untouched")
    func cachedPerSet() throws {
        let pipeline = try #require(Self.pipeline)
        let set = [LoRAReference(path: Fixtures.path("lora/peft.safetensors"), weight: 0.8)]
        let first = try pipeline.withLoRAs(set)
        #expect(try pipeline.withLoRAs(set) === first)
        #expect(try first.withLoRAs([]) === pipeline && pipeline.model.loras.isEmpty)
        #expect(try pipeline.withLoRAs([LoRAReference(path: set[0].path, weight: 0.5)]) !== first)
    }

    @Test("bad LoRA input: another architecture, an unknown name, an out-of-range weight, a missing file")
    func badInput() throws {
        let pipeline = try #require(Self.pipeline)
        let other = try StableDiffusionPipeline(model: StableDiffusionModel.load(path: Fixtures.path("models/tiny-sd-b")))
        #expect { _ = try other.withLoRAs([LoRAReference(path: Fixtures.path("lora/kohya-locon.safetensors"), weight: 1)]) } throws: {
            "\($0)".contains("another architecture")
        }
        #expect { _ = try PromptLoRATags.resolve("<lora:nope:1> a cat", directory: Fixtures.path("lora")) } throws: {
            "\($0)".contains("LoRA 'nope' is not in")
        }
        #expect { _ = try PromptLoRATags.resolve("<lora:kohya-locon:1> a cat", directory: nil) } throws: { "\($0)".contains("--lora-dir") }
        #expect { _ = try LoRAReference(parsing: "x.safetensors:11") } throws: { ($0 as? RenderFormatError)?.input == .lora }
        #expect { _ = try PromptLoRATags.tags(in: "<lora:x:nan>") } throws: { "\($0)".contains("finite") || "\($0)".contains("number") }
        #expect { _ = try pipeline.withLoRAs([LoRAReference(path: "/nonexistent/x.safetensors", weight: 1)]) } throws: {
            ($0 as? ModelError)?.code == .missingFile
        }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let loha = scratch.path("loha.safetensors")
        try SafeTensorsWriter.write([("lora_unet_x.hada_w1_a", Tensor(shape: [2, 2], values: [1, 2, 3, 4]))], to: loha)
        #expect { _ = try LoRAFile(path: loha) } throws: { "\($0)".contains("LoHa") }
        #expect(PromptLoRATags.strip("<lora:a:0.5> a cat <hypernet:b:1>") == " a cat ")
        #expect(try LoRAReference(parsing: "/x/y.safetensors") == LoRAReference(path: "/x/y.safetensors", weight: 1))
    }
}
