import ArgumentParser
import Farm
import RenderFormat

/// A `--state` value.
func parseState(_ text: String) throws -> JobState {
    guard let s = JobState(rawValue: text.lowercased()) else {
        throw ValidationError("--state '\(text)' is not a state; use one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return s
}

/// A job or batch id argument.
func parseID(_ text: String, what: String) throws -> Int64 {
    guard let id = Int64(text), id > 0 else { throw ValidationError("\(what) '\(text)' is not an id (a positive whole number)") }
    return id
}

/// `--prompt-syntax`'s help, shared by `render` and `submit`.
let promptSyntaxHelp = "Prompt syntax: diffusers (plain text, 77 tokens; the default) or a1111 ((emphasis:1.2), [less], BREAK, any length in 75-token chunks)."

/// The flag a library input is typed as on this command line.
extension RenderInput {
    var flag: String {
        switch self {
        case .model: "--model"
        case .prompt: "--prompt"
        case .prompts: "--prompts"
        case .negativePrompt: "--negative-prompt"
        case .seed: "--seed"
        case .seeds: "--seeds"
        case .steps: "--steps"
        case .sampler, .samplers: "--sampler"
        case .cfgScale: "--cfg-scale"
        case .width: "--width"
        case .height: "--height"
        case .size, .sizes: "--size"
        case .initImage: "--init-image"
        case .strength, .strengths: "--strength"
        case .interpolate: "--interpolate"
        case .frames: "--frames"
        case .interpolationPosition: "the interpolation position"
        case .priority: "--priority"
        case .maxAttempts: "--max-attempts"
        case .name: "--name"
        case .promptSyntax: "--prompt-syntax"
        case .lora: "--lora"
        case .loraDirectory: "--lora-dir"
        }
    }
}

/// A library error as the user typed it: inputs become their flags.
struct CommandLineError: Error, CustomStringConvertible {
    let description: String

    /// `error` with its input named by flag; other errors unchanged.
    static func translate(_ error: any Error) -> any Error {
        if let e = error as? RenderFormatError, let input = e.input { return CommandLineError(description: "\(input.flag) \(e.message)") }
        return error
    }
}

/// Runs `body`, naming any bad input by its flag.
func withFlagNames<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch { throw CommandLineError.translate(error) }
}
