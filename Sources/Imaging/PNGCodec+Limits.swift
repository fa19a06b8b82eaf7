extension PNGCodec {
    /// The largest PNG the decoder accepts. The file size and the `IHDR` chunk are checked against
    /// these before libpng sees the bytes, so a hostile header cannot make it allocate without bound.
    ///
    /// The defaults (`standard`) leave ample room for Stable Diffusion inputs and outputs (512–2048 px):
    /// - `maxSide` 8192 px: the longest width or height;
    /// - `maxPixels` 16,777,216 (4096 × 4096): width × height, so the decoded RGBA buffer is at most 64 MiB;
    /// - `maxBytes` 256 MiB: the file size (an uncompressed 16-bit RGBA PNG at `maxPixels` is 128 MiB).
    public struct Limits: Sendable, Equatable, CustomStringConvertible {
        /// The longest accepted width or height, in pixels.
        public let maxSide: Int
        /// The most pixels (width × height) accepted.
        public let maxPixels: Int
        /// The largest accepted file, in bytes.
        public let maxBytes: Int

        /// The defaults every decode uses unless a caller passes stricter ones.
        public static let standard = Limits(side: 8192, pixels: 4096 * 4096, bytes: 256 << 20)

        /// Limits at most as loose as `standard`: a value above the standard one is lowered to it.
        /// - Parameters:
        ///   - maxSide: the longest accepted width or height, in pixels.
        ///   - maxPixels: the most pixels (width × height) accepted.
        ///   - maxBytes: the largest accepted file, in bytes.
        public init(maxSide: Int = standard.maxSide, maxPixels: Int = standard.maxPixels, maxBytes: Int = standard.maxBytes) {
            self.init(side: min(maxSide, Self.standard.maxSide), pixels: min(maxPixels, Self.standard.maxPixels),
                      bytes: min(maxBytes, Self.standard.maxBytes))
        }

        private init(side: Int, pixels: Int, bytes: Int) {
            maxSide = side
            maxPixels = pixels
            maxBytes = bytes
        }

        public var description: String { "at most \(maxSide) px a side, \(maxPixels) pixels, \(maxBytes) bytes" }
    }
}
