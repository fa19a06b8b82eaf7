import Basics
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The settings of one render, written as the `parameters` text AUTOMATIC1111's web UI reads.
public struct GenerationParameters: Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String
    public var steps: Int
    public var sampler: SamplerKind
    public var cfgScale: Float
    public var seed: UInt64
    public var width: Int
    public var height: Int
    /// A1111's short model hash (`modelHash(path:)`); empty leaves `Model hash` out.
    public var modelHash: String
    public var modelName: String
    /// Further `key: value` pairs after `Model:` (e.g. `("Denoising strength", "0.75")`), in order.
    public var extra: [(String, String)]

    public init(prompt: String, negativePrompt: String = "", steps: Int, sampler: SamplerKind, cfgScale: Float,
                seed: UInt64, width: Int, height: Int, modelHash: String, modelName: String, extra: [(String, String)] = []) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.steps = steps
        self.sampler = sampler
        self.cfgScale = cfgScale
        self.seed = seed
        self.width = width
        self.height = height
        self.modelHash = modelHash
        self.modelName = modelName
        self.extra = extra
    }

    public static func == (a: GenerationParameters, b: GenerationParameters) -> Bool {
        a.prompt == b.prompt && a.negativePrompt == b.negativePrompt && a.steps == b.steps && a.sampler == b.sampler
            && a.cfgScale == b.cfgScale && a.seed == b.seed && a.width == b.width && a.height == b.height
            && a.modelHash == b.modelHash && a.modelName == b.modelName
            && a.extra.map(\.0) == b.extra.map(\.0) && a.extra.map(\.1) == b.extra.map(\.1)
    }

    /// `PROMPT\nNegative prompt: NEG\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512,
    /// Model hash: abcd1234, Model: NAME` — the negative prompt line only when there is one, the model hash
    /// only when known; values holding `,`, `:` or a newline are JSON-quoted as A1111 quotes them.
    public var a1111Text: String {
        var pairs: [(String, String)] = [
            ("Steps", String(steps)),
            ("Sampler", sampler.a1111Name),
            ("CFG scale", Self.formatNumber(cfgScale)),
            ("Seed", String(seed)),
            ("Size", "\(width)x\(height)"),
        ]
        if !modelHash.isEmpty { pairs.append(("Model hash", modelHash)) }
        pairs.append(("Model", modelName))
        pairs.append(contentsOf: extra)
        let line = pairs.map { "\($0.0): \(Self.quote($0.1))" }.joined(separator: ", ")
        var text = prompt
        if !negativePrompt.isEmpty { text += "\nNegative prompt: \(negativePrompt)" }
        return text + "\n" + line
    }

    /// A number as A1111 prints it here (and sdfarm everywhere): `7` for whole values, else the shortest
    /// round-trip form (`7.5`).
    public static func formatNumber<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }

    /// A1111's `quote`: the value itself unless it holds `,`, `:` or a newline, then a JSON string.
    static func quote(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == ":" || $0 == "\n" }) else { return value }
        return JSONString.quoted(value)
    }

    /// A1111's short model hash: the first 10 hex digits of the SHA-256 of the whole file.
    /// - Throws: `RenderFormatError.unreadableFile` when the file cannot be read.
    public static func modelHash(path: String) throws -> String {
        String(try sha256(path: path).prefix(10))
    }

    /// The SHA-256 of a file as 64 hex digits, read in 8 MiB chunks.
    /// - Throws: `RenderFormatError.unreadableFile` when the file cannot be read.
    public static func sha256(path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RenderFormatError(.unreadableFile, context: path, "no such file; cannot compute the model hash")
        }
        guard !isDirectory.boolValue else {
            throw RenderFormatError(.unreadableFile, context: path, "is a folder; the A1111 model hash is defined for a single checkpoint file — hash the file instead")
        }
        guard let handle = fopen(path, "rb") else {
            throw RenderFormatError(.unreadableFile, context: path, "cannot open the file (\(String(cString: strerror(errno)))); check its permissions")
        }
        defer { fclose(handle) }
        var hasher = SHA256()
        let chunk = 8 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = fread(buffer, 1, chunk, handle)
            if n > 0 { hasher.update(UnsafeRawBufferPointer(start: buffer, count: n)) }
            if n < chunk {
                if ferror(handle) != 0 {
                    throw RenderFormatError(.unreadableFile, context: path, "read error while hashing (\(String(cString: strerror(errno))))")
                }
                break
            }
        }
        return SHA256.hex(hasher.finalize())
    }
}
