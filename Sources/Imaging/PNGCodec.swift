import Basics
internal import CLibPNG
import Foundation

/// Encodes and decodes PNG files through libpng's simplified `png_image` API, which reports errors
/// by return value (no setjmp/longjmp), plus text chunks handled here.
public enum PNGCodec {
    /// One textual chunk: `tEXt` when key and value are Latin-1, `iTXt` (UTF-8) otherwise.
    public struct TextChunk: Equatable, Sendable {
        public let key: String
        public let value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Encodes `image` as an 8-bit RGB PNG with the given text chunks placed right after `IHDR`.
    public static func encode(_ image: RGBImage, text: [TextChunk] = []) throws -> [UInt8] {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_RGB)
        var size: Int = 0
        let ok = image.pixels.withUnsafeBytes { buf in
            png_image_write_to_memory(&png, nil, &size, 0, buf.baseAddress, Int32(image.width * 3), nil)
        }
        guard ok != 0, size > 0 else { throw PNGError(code: .encode, path: nil, reason: message(of: &png)) }
        var bytes = [UInt8](repeating: 0, count: size)
        let ok2 = image.pixels.withUnsafeBytes { buf in
            bytes.withUnsafeMutableBytes { out in
                png_image_write_to_memory(&png, out.baseAddress, &size, 0, buf.baseAddress, Int32(image.width * 3), nil)
            }
        }
        guard ok2 != 0 else { throw PNGError(code: .encode, path: nil, reason: message(of: &png)) }
        bytes.removeSubrange(size...)
        return try insertText(text, into: bytes)
    }

    /// Writes `image` to `path` atomically: a temporary file in the same directory, then a rename,
    /// so a reader never sees half a file and a failure leaves nothing behind.
    public static func write(_ image: RGBImage, to path: String, text: [TextChunk] = []) throws {
        try AtomicFile.write(try encode(image, text: text), to: path)
    }

    /// A decoded PNG: pixels as 8-bit RGB (alpha dropped), whether the file had alpha or 16-bit
    /// samples, and its text chunks.
    public struct Decoded: Sendable {
        public let image: RGBImage
        public let hadAlpha: Bool
        /// The file stores 16 bits per sample (converted to 8-bit sRGB by libpng).
        public let sixteenBit: Bool
        public let text: [TextChunk]
    }

    /// Reads a PNG file, refusing one over `limits` before reading or decoding all of it.
    /// - Throws: `PNGError` `.read` when the file cannot be read, and whatever `decode` throws.
    public static func read(path: String, limits: Limits = .standard) throws -> Decoded {
        try decode(try readFile(path: path, limits: limits), path: path, limits: limits)
    }

    /// The bytes of the file at `path`, read up to `limits.maxBytes` (so a huge file, a device or a
    /// pipe that never ends is refused instead of read whole).
    /// - Throws: `PNGError` `.read` when the file cannot be opened or read, `.tooLarge` past `limits.maxBytes`.
    public static func readFile(path: String, limits: Limits = .standard) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw PNGError(code: .read, path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        func tooLarge(_ size: String) -> PNGError {
            PNGError(code: .tooLarge, path: path, reason: "the file is \(size) bytes, over the limit of \(limits.maxBytes) bytes")
        }
        var status = stat()
        if fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, Int(status.st_size) > limits.maxBytes {
            throw tooLarge(String(status.st_size))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PNGError(code: .read, path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { return bytes }
            guard bytes.count + n <= limits.maxBytes else { throw tooLarge("more than \(limits.maxBytes)") }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// Decodes PNG bytes into 8-bit RGB. Grey and palette images are expanded; an alpha channel is
    /// dropped without compositing (as Pillow's `convert("RGB")` does), so the colour of transparent
    /// pixels is kept.
    ///
    /// The signature and `IHDR` are checked here first, so libpng only ever sees an image within
    /// `limits` and the decoded buffer it fills is bounded by them.
    /// - Parameters:
    ///   - bytes: the file's bytes.
    ///   - path: the file, named in errors.
    ///   - limits: the largest file and image accepted; `standard` unless the caller wants stricter ones.
    /// - Throws: `PNGError` `.notPNG`, `.tooLarge`, `.invalidHeader` (see `Limits`), or `.decode` with
    ///   libpng's message.
    public static func decode(_ bytes: [UInt8], path: String? = nil, limits: Limits = .standard) throws -> Decoded {
        let header = try PNGHeader(checking: bytes, path: path, limits: limits)
        // Every libpng call that reads `bytes` happens inside this one closure: the simplified API keeps
        // the pointer given to begin_read and reads through it again in finish_read.
        let (raw, hadAlpha, sixteenBit) = try bytes.withUnsafeBytes { memory -> ([UInt8], Bool, Bool) in
            var png = png_image()
            png.version = UInt32(PNG_IMAGE_VERSION)
            guard png_image_begin_read_from_memory(&png, memory.baseAddress, memory.count) != 0 else {
                throw PNGError(code: .decode, path: path, reason: message(of: &png))
            }
            guard Int(png.width) == header.width, Int(png.height) == header.height else {
                png_image_free(&png)
                throw PNGError(code: .decode, path: path, reason: "libpng read \(png.width)×\(png.height) pixels where IHDR says \(header.width)×\(header.height)")
            }
            let hadAlpha = (png.format & UInt32(PNG_FORMAT_FLAG_ALPHA)) != 0
            let sixteenBit = (png.format & UInt32(PNG_FORMAT_FLAG_LINEAR)) != 0
            // With alpha, read RGBA and drop it here: asking libpng for RGB would composite.
            let channels = hadAlpha ? 4 : 3
            png.format = UInt32(hadAlpha ? PNG_FORMAT_RGB | PNG_FORMAT_FLAG_ALPHA : PNG_FORMAT_RGB)
            // Bounded by the checked header: at most Limits.standard.maxPixels × 4 bytes.
            var raw = [UInt8](repeating: 0, count: header.width * header.height * channels)
            let finished = raw.withUnsafeMutableBytes { out in
                png_image_finish_read(&png, nil, out.baseAddress, Int32(header.width * channels), nil)
            }
            guard finished != 0 else { throw PNGError(code: .decode, path: path, reason: message(of: &png)) }
            return (raw, hadAlpha, sixteenBit)
        }
        let width = header.width, height = header.height
        var pixels = raw
        if hadAlpha {
            pixels = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) {
                pixels[i * 3] = raw[i * 4]
                pixels[i * 3 + 1] = raw[i * 4 + 1]
                pixels[i * 3 + 2] = raw[i * 4 + 2]
            }
        }
        return Decoded(image: RGBImage(width: width, height: height, pixels: pixels), hadAlpha: hadAlpha,
                       sixteenBit: sixteenBit, text: textChunks(in: bytes))
    }

    private static func message(of png: inout png_image) -> String {
        let text = withUnsafeBytes(of: &png.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        png_image_free(&png)
        return text.isEmpty ? "libpng reported an error" : text
    }
}
