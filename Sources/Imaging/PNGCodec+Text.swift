extension PNGCodec {
    /// Inserts `tEXt`/`iTXt` chunks right after `IHDR` of an encoded PNG.
    static func insertText(_ text: [TextChunk], into png: [UInt8]) throws -> [UInt8] {
        guard !text.isEmpty else { return png }
        // Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 crc).
        let ihdrEnd = 8 + 25
        guard png.count > ihdrEnd, Array(png[12..<16]) == Array("IHDR".utf8) else {
            throw PNGError(code: .encode, path: nil, reason: "encoder output does not start with IHDR")
        }
        var out = Array(png[0..<ihdrEnd])
        for chunk in text {
            guard !chunk.key.isEmpty, chunk.key.utf8.count <= 79,
                  chunk.key.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value <= 255 && $0.value != 0x7F }) else {
                throw PNGError(code: .encode, path: nil, reason: "text key '\(chunk.key)' must be 1–79 Latin-1 characters")
            }
            let key = chunk.key.unicodeScalars.map { UInt8($0.value) }
            let latin1 = chunk.value.unicodeScalars.allSatisfy { $0.value <= 255 && $0.value != 0 }
            if latin1 {
                appendChunk("tEXt", key + [0] + chunk.value.unicodeScalars.map { UInt8($0.value) }, to: &out)
            } else {
                // iTXt: key, 0, compression flag 0, method 0, empty language tag, 0, empty translated key, 0, UTF-8 text.
                appendChunk("iTXt", key + [0, 0, 0, 0, 0] + Array(chunk.value.utf8), to: &out)
            }
        }
        out.append(contentsOf: png[ihdrEnd...])
        return out
    }

    /// The uncompressed `tEXt` and `iTXt` chunks of a PNG, in file order.
    public static func textChunks(in png: [UInt8]) -> [TextChunk] {
        var result: [TextChunk] = []
        var offset = 8
        while offset + 12 <= png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            let type = String(decoding: png[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let start = offset + 8
            guard length >= 0, start + length + 4 <= png.count else { break }
            let data = Array(png[start..<(start + length)])
            if type == "tEXt", let nul = data.firstIndex(of: 0) {
                let key = String(data[..<nul].map { Character(Unicode.Scalar($0)) })
                let value = String(data[(nul + 1)...].map { Character(Unicode.Scalar($0)) })
                result.append(TextChunk(key: key, value: value))
            } else if type == "iTXt", let nul = data.firstIndex(of: 0), nul + 3 <= data.count, data[nul + 1] == 0 {
                let key = String(data[..<nul].map { Character(Unicode.Scalar($0)) })
                var rest = data[(nul + 3)...]
                guard let lang = rest.firstIndex(of: 0) else { break }
                rest = rest[(lang + 1)...]
                guard let translated = rest.firstIndex(of: 0) else { break }
                result.append(TextChunk(key: key, value: String(decoding: rest[(translated + 1)...], as: UTF8.self)))
            }
            if type == "IEND" { break }
            offset = start + length + 4
        }
        return result
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        let n = UInt32(data.count)
        out.append(contentsOf: [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)])
        let typed = Array(type.utf8) + data
        out.append(contentsOf: typed)
        let crc = CRC32.checksum(typed)
        out.append(contentsOf: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
    }
}

/// CRC-32 (ISO 3309, the polynomial PNG chunks use).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
