import ArgumentParser
import Diffusion
import Foundation

/// `sdfarm tokenize`: the CLIP token ids a prompt becomes.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the 77 CLIP token ids of a prompt and its token count before truncation.")

    @Option(help: "A diffusers folder (uses its tokenizer); default: the CLIP vocabulary in weights/clip.")
    var model: String?

    @Flag(help: "Print a JSON object {\"ids\": [...], \"count\": n, \"truncated\": n}.")
    var json = false

    @Argument(help: "The prompt.")
    var text: String

    func run() throws {
        let directory: String
        if let model {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir) else {
                throw ValidationError("--model \(model) does not exist")
            }
            if isDir.boolValue {
                directory = (model as NSString).appendingPathComponent("tokenizer")
            } else {
                guard let vocab = StableDiffusionModel.clipVocabularyDirectory() else { throw ValidationError("CLIP vocabulary (weights/clip) not found; set SDFARM_CLIP_VOCAB") }
                directory = vocab
            }
        } else {
            guard let vocab = StableDiffusionModel.clipVocabularyDirectory() else { throw ValidationError("CLIP vocabulary (weights/clip) not found; set SDFARM_CLIP_VOCAB") }
            directory = vocab
        }
        let tokenizer = try CLIPTokenizer.load(directory: directory)
        let result = tokenizer.tokenize(text)
        if json {
            print("{\"ids\": [\(result.ids.map(String.init).joined(separator: ", "))], \"count\": \(result.tokenCount), \"truncated\": \(result.truncatedTokens)}")
        } else {
            print(result.ids.map(String.init).joined(separator: " "))
            print("tokens: \(result.tokenCount)\(result.truncatedTokens > 0 ? " (\(result.truncatedTokens) dropped: the text encoder reads at most 77)" : "")")
        }
    }
}
