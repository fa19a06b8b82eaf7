import Farm
import Foundation
import Imaging
import RenderFormat
import Testing

@Suite("grid expansion and the test-pattern stand-in")
struct GridParsingTests {
    @Test("seed lists take numbers and inclusive ranges in order")
    func seedLists() throws {
        #expect(try GridParsing.seeds("1,2,10-13") == [1, 2, 10, 11, 12, 13])
        #expect(try GridParsing.seeds("18446744073709551615") == [UInt64.max])
        #expect(try GridParsing.seeds(" 7 ") == [7])
    }

    @Test("malformed seed lists name the bad item", arguments: [
        ("1,,2", "empty item"), ("5-1", "backwards"), ("-3", "negative"), ("abc", "'abc'"), ("1-2-3", "neither"),
        ("1,1", "more than once"), ("18446744073709551616", "not a seed"), ("0-200000", "at most"),
    ])
    func badSeeds(input: String, mentions: String) {
        #expect { try GridParsing.seeds(input) } throws: { error in
            (error as? RenderFormatError)?.message.contains(mentions) == true && (error as? RenderFormatError)?.input == .seeds
        }
    }

    @Test("sizes must be positive multiples of 8 up to 4096", arguments: ["512", "0x512", "513x512", "512x4104", "axb", "512x512x3", "-8x8"])
    func badSizes(input: String) {
        #expect(throws: RenderFormatError.self) { try GridParsing.sizes(input) }
    }

    @Test("lists parse and the grid is their cartesian product")
    func expansion() throws {
        let spec = GridSpec(model: "/m", prompts: ["a", "b"], seeds: try GridParsing.seeds("1-3"), cfgScales: try GridParsing.cfgScales("5,7.5"),
                            steps: try GridParsing.steps("20"), samplers: try GridParsing.samplers("ddim,EULER_A"),
                            sizes: try GridParsing.sizes("512x512,768x512"))
        let jobs = try spec.expand()
        #expect(jobs.count == 2 * 3 * 2 * 2 * 2)
        #expect(jobs.count == spec.jobCount)
        #expect(Set(jobs).count == jobs.count)
        #expect(jobs[0].seed == 1 && jobs[1].seed == 2 && jobs[0].prompt == "a" && jobs.last?.prompt == "b")
        #expect(throws: RenderFormatError.self) { try GridParsing.samplers("plms") }
        #expect(throws: RenderFormatError.self) { try GridParsing.cfgScales("nan") }
        #expect(throws: RenderFormatError.self) { try GridParsing.steps("0") }
    }

    @Test("a prompts file with nothing but blanks and comments is an error")
    func emptyPromptsFile() throws {
        let path = NSTemporaryDirectory() + "/prompts-\(UUID().uuidString).txt"
        try "\n# only a comment\n   \n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try GridParsing.prompts(file: path) } throws: { ($0 as? RenderFormatError)?.message.contains("no prompts") == true }
        try "red\n\n# c\nblue\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try GridParsing.prompts(file: path) == ["red", "blue"])
    }

    @Test("the test pattern is deterministic, differs by parameters and carries A1111 metadata")
    func testPattern() throws {
        let p = RenderParameters(model: "/m", prompt: "a cat", seed: 42, steps: 3, sampler: .euler_a, cfgScale: 7.5, width: 64, height: 32)
        let a = try TestPatternRenderer.image(for: p)
        var steps: [Int] = []
        let b = try TestPatternRenderer().render(p) { step, _ in steps.append(step); return true }
        #expect(a == b)
        #expect(steps == [1, 2, 3])
        var q = p
        q.seed = 43
        #expect(try TestPatternRenderer.image(for: q) != a)
        let decoded = try PNGCodec.decode(a)
        #expect(decoded.image.width == 64 && decoded.image.height == 32)
        #expect(decoded.text.first?.value == "a cat\nSteps: 3, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 64x32, Model: test-pattern")
        #expect(throws: RenderCancelled.self) { try TestPatternRenderer().render(p) { step, _ in step < 2 } }
    }

    @Test("a .ckpt model is refused and a missing path is named")
    func modelPaths() {
        #expect { try JobQueue.normalizeModelPath("/nonexistent/model.ckpt") } throws: { ($0 as? RenderFormatError)?.message.contains("never unpickles") == true }
        #expect { try JobQueue.normalizeModelPath("/nonexistent/model.safetensors") } throws: {
            ($0 as? RenderFormatError)?.message.contains("/nonexistent/model.safetensors does not exist") == true
        }
    }

    @Test("the contact sheet has room for every cell and its labels")
    func contactSheet() {
        let red = RGBImage(width: 32, height: 32, fill: (255, 0, 0))
        let sheet = ContactSheet.compose(cells: [[red, nil], [red, red]], columnLabels: ["seed 1", "seed 2"], rowLabels: ["cfg 5", "cfg 7.5"],
                                         title: "batch 1", maxCellSide: 32)
        #expect(sheet.width > 64 && sheet.height > 64)
        #expect(sheet.pixels.contains(0) && sheet.pixels.contains(255))
    }
}
