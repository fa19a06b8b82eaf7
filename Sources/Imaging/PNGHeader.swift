/// A PNG's signature and `IHDR` chunk, read and checked here before libpng is given the bytes.
///
/// PNG 3rd edition §5.2 (signature), §11.2.1 (IHDR): https://www.w3.org/TR/png-3/#11IHDR
struct PNGHeader: Equatable {
    let width: Int
    let height: Int
    let bitDepth: UInt8
    let colourType: UInt8
    let interlaced: Bool

    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
    /// Signature (8) + IHDR length (4) + type (4) + data (13) + CRC (4).
    static let minimumSize = 33

    /// Reads the header of `bytes`, refusing a file over `limits` or with a malformed `IHDR`.
    /// - Throws: `PNGError` `.notPNG` (no signature), `.tooLarge` (file size, a side or the pixel count
    ///   over `limits`), `.invalidHeader` (truncated, not first, bad CRC, zero size, bad depth or type).
    init(checking bytes: [UInt8], path: String?, limits: PNGCodec.Limits) throws {
        func fail(_ code: PNGError.Code, _ reason: String) -> PNGError { PNGError(code: code, path: path, reason: reason) }
        guard bytes.count >= 8, bytes[0..<8].elementsEqual(Self.signature) else {
            throw fail(.notPNG, "the file does not start with the PNG signature")
        }
        guard bytes.count <= limits.maxBytes else {
            throw fail(.tooLarge, "the file is \(bytes.count) bytes, over the limit of \(limits.maxBytes) bytes")
        }
        guard bytes.count >= Self.minimumSize else {
            throw fail(.invalidHeader, "the file ends inside the IHDR chunk (\(bytes.count) bytes; signature and IHDR need \(Self.minimumSize))")
        }
        func be32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        guard bytes[12..<16].elementsEqual("IHDR".utf8) else {
            let type = String(decoding: bytes[12..<16].map { (32...126).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw fail(.invalidHeader, "the first chunk is '\(type)', not IHDR")
        }
        guard be32(8) == 13 else { throw fail(.invalidHeader, "the IHDR chunk claims \(be32(8)) data bytes instead of 13") }
        let stored = be32(29), computed = CRC32.checksum(bytes[12..<29])
        guard stored == computed else {
            throw fail(.invalidHeader, "the IHDR CRC is 0x\(String(stored, radix: 16)) but its bytes give 0x\(String(computed, radix: 16)); the file is corrupt")
        }
        // UInt32 → Int cannot overflow on the 64-bit platforms we build for; the product is checked anyway.
        let width = Int(be32(16)), height = Int(be32(20))
        guard width > 0, height > 0 else {
            throw fail(.invalidHeader, "the image is \(width)×\(height) pixels; a PNG's width and height must be at least 1")
        }
        guard width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw fail(.invalidHeader, "the image is \(width)×\(height) pixels; PNG allows at most \(Int32.max) a side")
        }
        guard width <= limits.maxSide, height <= limits.maxSide else {
            throw fail(.tooLarge, "the image is \(width)×\(height) pixels; each side may be at most \(limits.maxSide)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= limits.maxPixels else {
            throw fail(.tooLarge, "the image is \(width)×\(height) = \(pixels) pixels, over the limit of \(limits.maxPixels) pixels")
        }
        let bitDepth = bytes[24], colourType = bytes[25]
        let depths: [UInt8: [UInt8]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let allowed = depths[colourType] else {
            throw fail(.invalidHeader, "the IHDR colour type is \(colourType); PNG defines 0, 2, 3, 4 and 6")
        }
        guard allowed.contains(bitDepth) else {
            throw fail(.invalidHeader, "the IHDR bit depth is \(bitDepth), which colour type \(colourType) does not allow (allowed: \(allowed.map(String.init).joined(separator: ", ")))")
        }
        guard bytes[26] == 0, bytes[27] == 0, bytes[28] <= 1 else {
            throw fail(.invalidHeader, "the IHDR compression, filter or interlace method (\(bytes[26]), \(bytes[27]), \(bytes[28])) is not one PNG defines")
        }
        self.width = width
        self.height = height
        self.bitDepth = bitDepth
        self.colourType = colourType
        interlaced = bytes[28] == 1
    }
}
