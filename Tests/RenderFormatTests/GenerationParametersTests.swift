import Foundation
import Testing
import RenderFormat
import TestSupport

@Suite struct GenerationParametersTests {
    @Test("SHA-256 matches the FIPS test vectors on every implementation this CPU runs", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ], SHA256.Implementation.supported)
    func sha256MatchesTheFIPSTestVectors(vector: (message: String, digest: String), implementation: SHA256.Implementation) {
        let (message, digest) = vector
        var hasher = SHA256(implementation: implementation)
        hasher.update(Array(message.utf8))
        #expect(SHA256.hex(hasher.finalize()) == digest)
        #expect(SHA256.hex(SHA256.hash(Array(message.utf8))) == digest)
    }

    @Test("SHA-256 of a million 'a's fed in odd chunks matches", arguments: SHA256.Implementation.supported)
    func sha256OfAMillionAsFedInOddChunksMatches(implementation: SHA256.Implementation) {
        var hasher = SHA256(implementation: implementation)
        let block = [UInt8](repeating: UInt8(ascii: "a"), count: 997)
        var fed = 0
        while fed < 1_000_000 {
            let n = min(block.count - fed % 7, 1_000_000 - fed)
            hasher.update(Array(block.prefix(n)))
            fed += n
        }
        #expect(SHA256.hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("the SHA extensions and the portable code agree on every length up to 300 bytes and on 1 MB of noise")
    func shaExtensionsAgreeWithThePortableCode() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<(1 << 20)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        for length in Array(0...300) + [noise.count] {
            let message = Array(noise.prefix(length))
            let digests = SHA256.Implementation.supported.map { implementation in
                var hasher = SHA256(implementation: implementation)
                hasher.update(message)
                return SHA256.hex(hasher.finalize())
            }
            #expect(Set(digests).count == 1, "length \(length): \(digests)")
        }
    }

    @Test("the model hash is the first ten hex digits of the file's SHA-256")
    func modelHashIsTheFirstTenHexDigitsOfTheFileSHA256() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        let path = folder.path("model.safetensors")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("abc".utf8)))
        #expect(try GenerationParameters.modelHash(path: path) == "ba7816bf8f")
        #expect(throws: RenderFormatError.self) { _ = try GenerationParameters.modelHash(path: folder.path("absent")) }
        #expect(throws: RenderFormatError.self) { _ = try GenerationParameters.modelHash(path: folder.path) }
    }

    @Test("A1111 text has the prompt, negative prompt and settings lines")
    func a1111TextHasThePromptNegativePromptAndSettingsLines() {
        var p = GenerationParameters(prompt: "a red cat", negativePrompt: "blurry", steps: 20, sampler: .euler_a, cfgScale: 7.5,
                                     seed: 42, width: 512, height: 512, modelHash: "abcd1234", modelName: "NAME")
        #expect(p.a1111Text == "a red cat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: abcd1234, Model: NAME")
        p.negativePrompt = ""
        p.cfgScale = 7
        p.sampler = .ddim
        p.extra = [("Denoising strength", "0.75")]
        #expect(p.a1111Text == "a red cat\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: abcd1234, Model: NAME, Denoising strength: 0.75")
    }

    @Test("the CFG scale is printed like A1111 and awkward values are quoted")
    func cfgScaleIsPrintedLikeA1111AndAwkwardValuesAreQuoted() {
        #expect(GenerationParameters.formatNumber(1) == "1")
        #expect(GenerationParameters.formatNumber(7) == "7")
        #expect(GenerationParameters.formatNumber(7.5) == "7.5")
        #expect(GenerationParameters.formatNumber(12.25) == "12.25")
        let p = GenerationParameters(prompt: "x", steps: 1, sampler: .euler, cfgScale: 1, seed: 18_446_744_073_709_551_615,
                                     width: 64, height: 32, modelHash: "0123456789", modelName: "my model, v2: final")
        #expect(p.a1111Text == "x\nSteps: 1, Sampler: Euler, CFG scale: 1, Seed: 18446744073709551615, Size: 64x32, Model hash: 0123456789, Model: \"my model, v2: final\"")
    }
}

extension GenerationParametersTests {
    @Test("A1111 text parses back to the same parameters")
    func a1111TextParsesBackToTheSameParameters() throws {
        let original = GenerationParameters(prompt: "a red cat,\nsecond line", negativePrompt: "blurry, low quality", steps: 25, sampler: .euler_a,
                                            cfgScale: 7.5, seed: 4_294_967_296, width: 768, height: 512, modelHash: "0123456789",
                                            modelName: "my model, v2: \"final\"", extra: [("Denoising strength", "0.75"), ("Note", "a, b")])
        #expect(try GenerationParameters(a1111Text: original.a1111Text) == original)
        let plain = try GenerationParameters(a1111Text: "cat\nSteps: 20, Sampler: DDIM, CFG scale: 7, Seed: 1, Size: 64x64, Model hash: ab, Model: tiny")
        #expect(plain.negativePrompt == "" && plain.sampler == .ddim && plain.cfgScale == 7 && plain.modelName == "tiny")
        #expect(throws: RenderFormatError.self) { _ = try GenerationParameters(a1111Text: "just a prompt") }
        for kind in SamplerKind.allCases {
            var p = original
            p.sampler = kind
            #expect(try GenerationParameters(a1111Text: p.a1111Text).sampler == kind, "\(kind.a1111Name)")
        }
        #expect { _ = try GenerationParameters(a1111Text: "x\nSteps: 20, Sampler: UniPC, CFG scale: 7, Seed: 1, Size: 64x64") } throws: {
            "\($0)".contains("euler_a") && "\($0)".contains("dpmpp_2m_karras")
        }
    }
}
