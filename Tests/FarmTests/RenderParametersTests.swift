import Farm
import Foundation
import RenderFormat
import Testing

/// The typed job and its stored form, without a database.
@Suite("typed jobs and their stored form")
struct RenderParametersTests {
    static let digest = String(repeating: "0f", count: 32)

    static var kinds: [JobKind] {
        [.txt2img, .img2img(try! InitImageInput(sha256: digest), strength: 0.3),
         .interpolation(InterpolationFrame(target: "b", frame: 2, frames: 5, method: .lerp))]
    }

    @Test("every kind survives the stored JSON form unchanged", arguments: kinds)
    func storedFormRoundTrips(kind: JobKind) throws {
        let p = RenderParameters(kind: kind, model: "/m", prompt: "a", negativePrompt: "n", seed: .max, steps: 20, sampler: .dpmpp_2m_karras,
                                 cfgScale: 7.3, width: 512, height: 768)
        let json = try JSONEncoder().encode(p)
        #expect(try JSONDecoder().decode(RenderParameters.self, from: json) == p)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["kind"] as? String == kind.name && object["sampler"] as? String == "dpmpp_2m_karras")
    }

    @Test("a stored job that does not decode names the field", arguments: [
        (#"{"kind":"img3img","extra":{}}"#, "field kind"),
        (#"{"kind":"img2img","extra":{"init_image":"/etc/passwd","init_image_sha256":"0f0f","strength":"0.5"}}"#, "extra.init_image_sha256"),
        (#"{"kind":"img2img","extra":{"init_image":"../x.png","init_image_sha256":"\#(digest)","strength":"0.5"}}"#, "extra.init_image"),
        (#"{"kind":"img2img","extra":{"init_image":"inputs/\#(digest).png","init_image_sha256":"\#(digest)"}}"#, "extra.strength"),
        (#"{"kind":"interpolate","extra":{"prompt_b":"b","frame":"x","frames":"3"}}"#, "extra.frame"),
        (#"{"kind":"interpolate","extra":{"prompt_b":"b","frame":"1","frames":"3","interpolation":"cubic"}}"#, "extra.interpolation"),
        (#"{"kind":"txt2img","sampler":"heun","extra":{}}"#, "field sampler"),
        (#"{"kind":"txt2img","extra":{"prompt_syntax":"compel"}}"#, "extra.prompt_syntax"),
        (#"{"kind":"txt2img","extra":{"loras":"x.safetensors"}}"#, "extra.loras"),
    ])
    func badStoredJobsNameTheField(partial: String, field: String) throws {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(partial.utf8)) as? [String: Any])
        let base: [String: Any] = ["model": "/m", "prompt": "a", "negative_prompt": "", "seed": 1, "steps": 4, "sampler": "ddim",
                                   "cfg_scale": 7.5, "width": 64, "height": 64]
        object.merge(base) { mine, _ in mine }
        let data = try JSONSerialization.data(withJSONObject: object)
        #expect { _ = try JSONDecoder().decode(RenderParameters.self, from: data) } throws: { "\($0)".contains(field) }
    }

    @Test("the prompt syntax is stored with the job; a row without it is a diffusers job", arguments: PromptSyntax.allCases)
    func promptSyntaxIsStored(syntax: PromptSyntax) throws {
        let p = RenderParameters(model: "/m", prompt: "(a:1.2)", seed: 1, steps: 4, sampler: .ddim, cfgScale: 7.5, width: 64, height: 64,
                                 promptSyntax: syntax)
        let json = try JSONEncoder().encode(p)
        #expect(try JSONDecoder().decode(RenderParameters.self, from: json).promptSyntax == syntax)
        #expect(p.storedExtra["prompt_syntax"] == (syntax == .diffusers ? nil : syntax.rawValue))
        let old = #"{"kind":"txt2img","model":"/m","prompt":"a","negative_prompt":"","seed":1,"steps":4,"sampler":"ddim","cfg_scale":7.5,"width":64,"height":64,"extra":{}}"#
        #expect(try JSONDecoder().decode(RenderParameters.self, from: Data(old.utf8)).promptSyntax == .diffusers)
    }

    @Test("LoRAs are stored with the job, and a grid's LoRA sets are an axis")
    func lorasAreStoredAndAGridAxis() throws {
        let sets: [[LoRAReference]] = [[], [LoRAReference(path: "/l/a.safetensors", weight: 0.5)],
                                       [LoRAReference(path: "/l/a.safetensors", weight: 1), LoRAReference(path: "/l/b.safetensors", weight: -0.3)]]
        let spec = GridSpec(model: "/m", prompts: ["a", "b"], seeds: [1, 2], loraSets: sets)
        #expect(spec.jobCount == 12)
        let jobs = try spec.expand()
        #expect(jobs.count == 12 && jobs.prefix(3).map(\.loras) == sets)
        for job in jobs {
            #expect(try JSONDecoder().decode(RenderParameters.self, from: try JSONEncoder().encode(job)) == job)
        }
        var bad = jobs[1]
        bad.loras[0].weight = 11
        #expect { try bad.validate() } throws: { ($0 as? RenderFormatError)?.input == .lora }
    }

    @Test("limits are checked once, through RenderLimits, and name the input")
    func limits() {
        let ok = RenderParameters(model: "/m", prompt: "a", seed: 1, steps: 20, sampler: .ddim, cfgScale: 7.5, width: 512, height: 512)
        #expect(throws: Never.self) { try ok.validate() }
        var cases: [(RenderParameters, RenderInput)] = []
        var p = ok; p.steps = 1001; cases.append((p, .steps))
        p = ok; p.width = 500; cases.append((p, .width))
        p = ok; p.height = 8192; cases.append((p, .height))
        p = ok; p.cfgScale = .nan; cases.append((p, .cfgScale))
        p = ok; p.prompt = "  \n"; cases.append((p, .prompt))
        p = ok; p.kind = .img2img(try! InitImageInput(sha256: Self.digest), strength: 0.01); cases.append((p, .strength))
        p = ok; p.kind = .interpolation(InterpolationFrame(target: "b", frame: 0, frames: 1)); cases.append((p, .frames))
        p = ok; p.kind = .interpolation(InterpolationFrame(target: "b", frame: 3, frames: 3)); cases.append((p, .frames))
        for (job, input) in cases {
            #expect { try job.validate() } throws: { ($0 as? RenderFormatError)?.input == input }
        }
    }

    @Test("a grid too large for an Int is refused, not overflowed")
    func gridOverflow() {
        let many = Array(repeating: "p", count: 1 << 20)
        let spec = GridSpec(model: "/m", prompts: many, seeds: Array(0..<(1 << 20)), cfgScales: Array(repeating: 7.5, count: 1 << 12),
                            steps: Array(repeating: 20, count: 1 << 12))
        #expect(spec.jobCount == nil)
    }
}
