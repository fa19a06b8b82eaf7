import Foundation
import Imaging
import Testing
import TestSupport

@Suite("PNG through libpng")
struct PNGCodecTests {
    static func gradient(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height { for x in 0..<width {
            image[x, y] = (UInt8(x * 255 / max(width - 1, 1)), UInt8(y * 255 / max(height - 1, 1)), UInt8((x * 31 + y * 17) % 256))
        } }
        return image
    }

    @Test("an image written and read back is byte-identical and keeps its tEXt chunk")
    func roundTripWithText() throws {
        let dir = try ScratchDirectory(prefix: "png")
        defer { dir.remove() }
        let image = Self.gradient(width: 37, height: 23)
        let parameters = "a red circle\nNegative prompt: blur\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 37x23, Model hash: abcd1234, Model: tiny"
        let path = dir.path("out.png")
        try PNGCodec.write(image, to: path, text: [.init(key: "parameters", value: parameters)])
        let decoded = try PNGCodec.read(path: path)
        #expect(decoded.image == image)
        #expect(decoded.text == [.init(key: "parameters", value: parameters)])
        let raw = try #require(FileManager.default.contents(atPath: path))
        #expect(raw.range(of: Data("tEXtparameters".utf8)) != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.png"])
    }

    @Test("non-Latin-1 text goes into an iTXt chunk and survives")
    func unicodeText() throws {
        let bytes = try PNGCodec.encode(Self.gradient(width: 4, height: 4), text: [.init(key: "parameters", value: "富士山 🗻")])
        let decoded = try PNGCodec.decode(bytes)
        #expect(decoded.text.first?.value == "富士山 🗻")
        #expect(Data(bytes).range(of: Data("iTXtparameters".utf8)) != nil)
    }

    @Test("writing into a directory that does not exist is a Swift error, not a crash, and leaves nothing")
    func unwritablePathThrows() throws {
        let image = Self.gradient(width: 8, height: 8)
        #expect(throws: PNGError.self) {
            try PNGCodec.write(image, to: "/nonexistent-dir-\(UUID().uuidString)/x.png")
        }
        #expect(throws: PNGError.self) { try PNGCodec.write(image, to: "/proc/version/x.png") }
    }

    @Test("bytes that are not a PNG, or a truncated PNG, give a decode error")
    func corruptInput() throws {
        #expect(throws: PNGError.self) { try PNGCodec.decode(Array("hello, world".utf8)) }
        let good = try PNGCodec.encode(Self.gradient(width: 16, height: 16))
        #expect(throws: PNGError.self) { try PNGCodec.decode(Array(good.prefix(good.count / 2))) }
    }
}
