/// Why a JSON text did not parse: a message and the byte offset.
struct JSONParseError: Error, Equatable {
    let message: String
    let offset: Int
}

/// A strict RFC 8259 JSON parser over bytes: linear time, bounded nesting depth, never traps on any input.
struct JSONParser {
    /// Deepest nesting accepted (a safetensors header needs 3).
    static let maxDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Parses exactly one JSON value, surrounded by optional whitespace.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    /// Parses a byte array (tests).
    static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private func error(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: position) }

    private var atEnd: Bool { position >= bytes.count }
    private var current: UInt8 { bytes[position] }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard !atEnd else { throw error("unexpected end of JSON") }
        switch current {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(printable(current))'")
        }
    }

    private func printable(_ byte: UInt8) -> String {
        (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw error("truncated literal") }
        for i in 0..<count where bytes[position + i] != literal.utf8Start[i] {
            throw error("invalid literal")
        }
        position += count
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        position += 1
        var object: [String: JSONValue] = [:]
        skipWhitespace()
        if !atEnd, current == UInt8(ascii: "}") { position += 1; return .object(object) }
        while true {
            skipWhitespace()
            guard !atEnd, current == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyOffset = position
            let key = try parseString()
            skipWhitespace()
            guard !atEnd, current == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            guard object.updateValue(value, forKey: key) == nil else {
                throw JSONParseError(message: "duplicate key '\(key)'", offset: keyOffset)
            }
            skipWhitespace()
            guard !atEnd else { throw error("unexpected end inside an object") }
            if current == UInt8(ascii: ",") { position += 1; continue }
            if current == UInt8(ascii: "}") { position += 1; return .object(object) }
            throw error("expected ',' or '}' in an object")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        position += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if !atEnd, current == UInt8(ascii: "]") { position += 1; return .array(array) }
        while true {
            skipWhitespace()
            array.append(try parseValue(depth: depth))
            skipWhitespace()
            guard !atEnd else { throw error("unexpected end inside an array") }
            if current == UInt8(ascii: ",") { position += 1; continue }
            if current == UInt8(ascii: "]") { position += 1; return .array(array) }
            throw error("expected ',' or ']' in an array")
        }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = position
        var negative = false
        if current == UInt8(ascii: "-") { negative = true; position += 1 }
        guard !atEnd, isDigit(current) else { throw error("expected a digit") }
        var integral = true
        var magnitude = 0
        var overflow = false
        if current == UInt8(ascii: "0") {
            position += 1
            if !atEnd, isDigit(current) { throw error("leading zero in a number") }
        } else {
            while !atEnd, isDigit(current) {
                let digit = Int(current - UInt8(ascii: "0"))
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(digit)
                if o1 || o2 { overflow = true } else { magnitude = s }
                position += 1
            }
        }
        if !atEnd, current == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard !atEnd, isDigit(current) else { throw error("expected a digit after '.'") }
            while !atEnd, isDigit(current) { position += 1 }
        }
        if !atEnd, current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            position += 1
            if !atEnd, current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard !atEnd, isDigit(current) else { throw error("expected a digit in an exponent") }
            while !atEnd, isDigit(current) { position += 1 }
        }
        if integral, !overflow { return .integer(negative ? -magnitude : magnitude) }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        return .number(Double(text) ?? (negative ? -.infinity : .infinity))
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func parseString() throws(JSONParseError) -> String {
        position += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        while true {
            guard !atEnd else { throw error("unterminated string") }
            let byte = current
            if byte == UInt8(ascii: "\"") { position += 1; return String(scalars) }
            if byte < 0x20 { throw error("control character in a string") }
            if byte == UInt8(ascii: "\\") {
                position += 1
                guard !atEnd else { throw error("unterminated escape") }
                let escape = current
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    let first = try parseHex4()
                    if (0xD800..<0xDC00).contains(first) {
                        guard bytes.count - position >= 6, current == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate escape")
                        }
                        position += 2
                        let second = try parseHex4()
                        guard (0xDC00..<0xE000).contains(second) else { throw error("unpaired surrogate escape") }
                        let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                        guard let scalar = Unicode.Scalar(value) else { throw error("invalid escape") }
                        scalars.append(scalar)
                    } else {
                        guard let scalar = Unicode.Scalar(first) else { throw error("unpaired surrogate escape") }
                        scalars.append(scalar)
                    }
                default: throw error("invalid escape '\\\(printable(escape))'")
                }
                continue
            }
            if byte < 0x80 {
                scalars.append(Unicode.Scalar(byte))
                position += 1
                continue
            }
            scalars.append(try decodeUTF8Scalar())
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = current
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// Decodes one multi-byte UTF-8 sequence strictly (no overlongs, no surrogates, ≤ U+10FFFF).
    private mutating func decodeUTF8Scalar() throws(JSONParseError) -> Unicode.Scalar {
        let lead = current
        let length: Int
        var value: UInt32
        let minimum: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F); minimum = 0x80
        case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F); minimum = 0x800
        case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07); minimum = 0x10000
        default: throw error("invalid UTF-8")
        }
        guard bytes.count - position >= length else { throw error("truncated UTF-8") }
        for i in 1..<length {
            let b = bytes[position + i]
            guard b & 0xC0 == 0x80 else { throw error("invalid UTF-8") }
            value = value << 6 | UInt32(b & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { throw error("invalid UTF-8") }
        position += length
        return scalar
    }
}
