import Foundation
import Basics
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
        #expect(throws: FileWriteError.self) {
            try PNGCodec.write(image, to: "/nonexistent-dir-\(UUID().uuidString)/x.png")
        }
        #expect(throws: FileWriteError.self) { try PNGCodec.write(image, to: "/proc/version/x.png") }
    }

    @Test("bytes that are not a PNG, or a truncated PNG, give a decode error")
    func corruptInput() throws {
        #expect(throws: PNGError.self) { try PNGCodec.decode(Array("hello, world".utf8)) }
        let good = try PNGCodec.encode(Self.gradient(width: 16, height: 16))
        #expect(throws: PNGError.self) { try PNGCodec.decode(Array(good.prefix(good.count / 2))) }
    }
}

/// Hostile PNG headers are refused by the checks in front of libpng, with errors that name the problem.
@Suite("PNG limits and header checks")
struct PNGLimitTests {
    /// CRC-32 as PNG chunks use it (written here so the tests do not trust the codec's own).
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return be32(UInt32(data.count)) + typed + be32(crc32(typed))
    }

    /// Signature, an IHDR claiming `width`×`height` (8-bit RGB) with a correct CRC, a tiny IDAT, IEND.
    static func png(width: UInt32, height: UInt32, bitDepth: UInt8 = 8, colourType: UInt8 = 2) -> [UInt8] {
        let ihdr = be32(width) + be32(height) + [bitDepth, colourType, 0, 0, 0]
        // A complete zlib stream of one empty stored block.
        let idat: [UInt8] = [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]
        return [137, 80, 78, 71, 13, 10, 26, 10] + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", [])
    }

    /// The error `decode` throws, or nil.
    static func error(decoding bytes: [UInt8], limits: PNGCodec.Limits = .standard) -> PNGError? {
        do {
            _ = try PNGCodec.decode(bytes, path: "hostile.png", limits: limits)
            return nil
        } catch let error as PNGError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test("the standard limits are 8192 px a side, 4096×4096 pixels and 256 MiB, and callers can only tighten them")
    func standardLimits() {
        #expect(PNGCodec.Limits.standard == PNGCodec.Limits(maxSide: 8192, maxPixels: 16_777_216, maxBytes: 268_435_456))
        #expect(PNGCodec.Limits(maxSide: 100_000, maxPixels: .max, maxBytes: .max) == .standard)
        #expect(PNGCodec.Limits(maxSide: 64).maxSide == 64)
    }

    @Test("an IHDR claiming 100000×100000 pixels is refused quickly, naming the size and the limit")
    func hugeDimensionsAreRefused() throws {
        let clock = ContinuousClock()
        var failure: PNGError?
        let elapsed = clock.measure { failure = Self.error(decoding: Self.png(width: 100_000, height: 100_000)) }
        let error = try #require(failure)
        #expect(error.code == .tooLarge)
        #expect(error.description.contains("100000×100000") && error.description.contains("at most 8192"))
        #expect(error.description.contains("hostile.png"))
        #expect(elapsed < .seconds(1))
    }

    @Test("sides within the limit whose product is over the pixel limit are refused, naming the pixel count")
    func tooManyPixelsAreRefused() throws {
        let error = try #require(Self.error(decoding: Self.png(width: 8192, height: 8192)))
        #expect(error.code == .tooLarge)
        #expect(error.description.contains("67108864 pixels") && error.description.contains("limit of 16777216 pixels"))
        let stricter = try #require(Self.error(decoding: Self.png(width: 40, height: 40), limits: .init(maxPixels: 1000)))
        #expect(stricter.code == .tooLarge && stricter.description.contains("1600 pixels, over the limit of 1000"))
    }

    @Test("a zero width or height is an invalid header")
    func zeroSizeIsRefused() throws {
        for (w, h) in [(0, 10), (10, 0), (0, 0)] as [(UInt32, UInt32)] {
            let error = try #require(Self.error(decoding: Self.png(width: w, height: h)))
            #expect(error.code == .invalidHeader)
            #expect(error.description.contains("\(w)×\(h) pixels") && error.description.contains("at least 1"))
        }
    }

    @Test("a file over the byte limit is refused by decode and by read before decoding")
    func oversizedFileIsRefused() throws {
        let good = try PNGCodec.encode(PNGCodecTests.gradient(width: 64, height: 64))
        let limits = PNGCodec.Limits(maxBytes: good.count - 1)
        let error = try #require(Self.error(decoding: good, limits: limits))
        #expect(error.code == .tooLarge)
        #expect(error.description.contains("\(good.count) bytes, over the limit of \(good.count - 1) bytes"))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("big.png").path
        try AtomicFile.write(good, to: path)
        #expect(throws: PNGError.self) { try PNGCodec.read(path: path, limits: limits) }
        #expect(try PNGCodec.read(path: path).image == PNGCodecTests.gradient(width: 64, height: 64))
        // A device that never ends is cut off at the limit instead of read forever.
        do {
            _ = try PNGCodec.readFile(path: "/dev/zero", limits: .init(maxBytes: 1 << 20))
            Issue.record("expected /dev/zero to be refused")
        } catch let error as PNGError {
            #expect(error.code == .tooLarge && error.description.contains("over the limit of 1048576 bytes"))
        }
    }

    @Test("a file that ends inside IHDR, or whose first chunk is not IHDR, is an invalid header")
    func truncatedHeaderIsRefused() throws {
        let whole = Self.png(width: 16, height: 16)
        for length in [9, 16, 24, 32] {
            let error = try #require(Self.error(decoding: Array(whole.prefix(length))))
            #expect(error.code == .invalidHeader)
            #expect(error.description.contains("ends inside the IHDR chunk (\(length) bytes"))
        }
        let notFirst = [137, 80, 78, 71, 13, 10, 26, 10] + Self.chunk("tEXt", Array("key\0value!".utf8)) + Array(whole[8...])
        let error = try #require(Self.error(decoding: notFirst))
        #expect(error.code == .invalidHeader && error.description.contains("the first chunk is 'tEXt', not IHDR"))
    }

    @Test("an IHDR with a wrong CRC, length, bit depth or colour type is an invalid header")
    func corruptHeaderIsRefused() throws {
        var badCRC = Self.png(width: 16, height: 16)
        badCRC[29] ^= 0xFF
        let crc = try #require(Self.error(decoding: badCRC))
        #expect(crc.code == .invalidHeader && crc.description.contains("CRC"))

        var badLength = Self.png(width: 16, height: 16)
        badLength[11] = 14
        let length = try #require(Self.error(decoding: badLength))
        #expect(length.code == .invalidHeader && length.description.contains("14 data bytes instead of 13"))

        let depth = try #require(Self.error(decoding: Self.png(width: 16, height: 16, bitDepth: 4, colourType: 2)))
        #expect(depth.code == .invalidHeader && depth.description.contains("bit depth is 4"))
        let colour = try #require(Self.error(decoding: Self.png(width: 16, height: 16, colourType: 5)))
        #expect(colour.code == .invalidHeader && colour.description.contains("colour type is 5"))
    }

    @Test("a header within the limits still reaches libpng, whose errors are decode errors")
    func validHeaderWithBadDataIsADecodeError() throws {
        let error = try #require(Self.error(decoding: Self.png(width: 16, height: 16)))
        #expect(error.code == .decode)
    }

    @Test("normal RGB images of several sizes still round-trip under the checks", arguments: [64, 1, 777])
    func normalImagesRoundTrip(side: Int) throws {
        let image = PNGCodecTests.gradient(width: side, height: max(1, side / 2))
        let decoded = try PNGCodec.decode(try PNGCodec.encode(image), limits: .init(maxSide: 1024))
        #expect(decoded.image == image && !decoded.hadAlpha && !decoded.sixteenBit)
    }

    /// A PNG of `rows` (unfiltered scanlines) in one stored zlib block, with extra chunks before IDAT.
    static func png(width: UInt32, height: UInt32, bitDepth: UInt8, colourType: UInt8, rows: [[UInt8]], before: [UInt8] = []) -> [UInt8] {
        var raw: [UInt8] = []
        for row in rows { raw.append(0); raw.append(contentsOf: row) }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        let n = UInt16(raw.count)
        var zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)]
        zlib.append(contentsOf: raw)
        zlib.append(contentsOf: be32(b << 16 | a))
        var ihdr = be32(width) + be32(height)
        ihdr.append(contentsOf: [bitDepth, colourType, 0, 0, 0])
        var file: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        for part in [chunk("IHDR", ihdr), before, chunk("IDAT", zlib), chunk("IEND", [])] { file.append(contentsOf: part) }
        return file
    }

    @Test("grey, grey+alpha, palette, RGBA and 16-bit files decode as before: expanded to RGB, alpha dropped, 16-bit flagged")
    func colourTypesStillDecode() throws {
        let grey = try PNGCodec.decode(Self.png(width: 2, height: 1, bitDepth: 8, colourType: 0, rows: [[0, 200]]))
        #expect(grey.image.pixels == [0, 0, 0, 200, 200, 200] && !grey.hadAlpha && !grey.sixteenBit)

        let greyAlpha = try PNGCodec.decode(Self.png(width: 2, height: 1, bitDepth: 8, colourType: 4, rows: [[90, 255, 10, 255]]))
        #expect(greyAlpha.image.pixels == [90, 90, 90, 10, 10, 10] && greyAlpha.hadAlpha)

        let palette = try PNGCodec.decode(Self.png(width: 3, height: 1, bitDepth: 8, colourType: 3, rows: [[2, 0, 1]],
                                                   before: Self.chunk("PLTE", [255, 0, 0, 0, 255, 0, 0, 0, 255])))
        #expect(palette.image.pixels == [0, 0, 255, 255, 0, 0, 0, 255, 0] && !palette.hadAlpha)

        let rgba = try PNGCodec.decode(Self.png(width: 2, height: 1, bitDepth: 8, colourType: 6, rows: [[10, 20, 30, 255, 40, 50, 60, 255]],
                                                before: Self.chunk("tEXt", Array("parameters\0a cat".utf8))))
        #expect(rgba.image.pixels == [10, 20, 30, 40, 50, 60] && rgba.hadAlpha)
        #expect(rgba.text == [.init(key: "parameters", value: "a cat")])

        let deep = try PNGCodec.decode(Self.png(width: 1, height: 1, bitDepth: 16, colourType: 2, rows: [[255, 255, 0, 0, 255, 255]]))
        #expect(deep.sixteenBit && deep.image.pixels == [255, 0, 255])
    }
}
