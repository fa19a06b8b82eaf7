import Foundation
import Testing
import Diffusion
import TestSupport

/// Drives the in-memory header parser with random and mutated files: it must return or throw a
/// `SafeTensorsError`, never trap or hang, each input quickly.
@Suite struct SafeTensorsFuzzTests {
    static let seeds: [String] = [
        #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[4],"data_offsets":[16,24]}}"#,
        #"{"__metadata__":{"format":"pt","k":"v\u00e9\ud83d\ude00"},"x":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}"#,
        #"{"t":{"dtype":"I64","shape":[1,0,3],"data_offsets":[0,0]},"u":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}"#,
        #"{}"#,
    ]

    static func randomJSON(_ rng: inout SplitMix64, depth: Int) -> String {
        let pick = Int.random(in: 0..<(depth > 4 ? 5 : 9), using: &rng)
        switch pick {
        case 0: return String(Int.random(in: -5...100, using: &rng))
        case 1: return ["\"F32\"", "\"F16\"", "\"BF16\"", "\"X\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\""].randomElement(using: &rng)!
        case 2: return ["true", "false", "null", "1e400", "-0", "1.5", "99999999999999999999999"].randomElement(using: &rng)!
        case 3: return "\"" + String((0..<Int.random(in: 0..<6, using: &rng)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &rng))) }).replacingOccurrences(of: "\\", with: "").replacingOccurrences(of: "\"", with: "") + "\""
        case 4: return "[]"
        case 5, 6:
            let n = Int.random(in: 0..<4, using: &rng)
            return "[" + (0..<n).map { _ in randomJSON(&rng, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            let n = Int.random(in: 0..<4, using: &rng)
            let keys = ["dtype", "shape", "data_offsets", "a", "b", "__metadata__"]
            return "{" + (0..<n).map { _ in "\"\(keys.randomElement(using: &rng)!)\":" + randomJSON(&rng, depth: depth + 1) }.joined(separator: ",") + "}"
        }
    }

    static func mutate(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var out = bytes
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !out.isEmpty else { break }
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: let i = Int.random(in: 0..<out.count, using: &rng); out[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1: out = Array(out.prefix(Int.random(in: 0...out.count, using: &rng)))
            case 2: let i = Int.random(in: 0..<out.count, using: &rng); out[i] = UInt8.random(in: 0...255, using: &rng)
            case 3: let i = Int.random(in: 0...out.count, using: &rng); out.insert(UInt8.random(in: 0...255, using: &rng), at: i)
            case 4: let i = Int.random(in: 0..<out.count, using: &rng); out.remove(at: i)
            default:
                let i = Int.random(in: 0..<out.count, using: &rng)
                let j = Int.random(in: i..<out.count, using: &rng)
                out.insert(contentsOf: out[i...j], at: j)
            }
        }
        return out
    }

    /// The codes a header parse may fail with (the others belong to opening, loading and writing files).
    static let headerCodes: Set<SafeTensorsError.Code> = [
        .tooShort, .headerBeyondFile, .headerTooLarge, .invalidJSON, .headerNotObject, .missingField, .unknownDType,
        .invalidShape, .invalidOffsets, .sizeMismatch, .overlappingTensors, .invalidMetadata,
    ]

    /// Parses one input, checking it finishes quickly; nil (with an issue recorded) when it took too long.
    static func parse(_ file: [UInt8]) -> Result<SafeTensorsHeader, SafeTensorsError>? {
        let start = ContinuousClock.now
        let result = Result { () throws(SafeTensorsError) in try SafeTensorsHeader.parse(file: file) }
        let elapsed = ContinuousClock.now - start
        if elapsed > .milliseconds(250) {
            Issue.record("input of \(file.count) bytes took \(elapsed)")
            return nil
        }
        return result
    }

    /// Parses one input, checking it finishes quickly and fails only with a `SafeTensorsError`.
    static func check(_ file: [UInt8]) -> Bool { parse(file) != nil }

    /// What is wrong with a header that parsed from `file`: its data offset must follow the length prefix,
    /// every tensor must lie in the data section with the byte count its dtype and shape need, and writing
    /// the header out again (by JSONSerialization, not our parser) must parse back to the same tensors and
    /// metadata. Empty when all holds.
    static func inconsistencies(_ header: SafeTensorsHeader, file: [UInt8]) -> [String] {
        var problems: [String] = []
        let length = file.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        if header.dataOffset != 8 + length { problems.append("data offset \(header.dataOffset) for a header of \(length) bytes") }
        for (name, info) in header.tensors {
            if info.byteRange.lowerBound < header.dataOffset || info.byteRange.upperBound > file.count {
                problems.append("\(name): bytes \(info.byteRange) outside the data section \(header.dataOffset)..<\(file.count)")
            }
            if info.byteRange.count != info.elementCount * info.dtype.byteSize {
                problems.append("\(name): \(info.byteRange.count) bytes for \(info.elementCount) × \(info.dtype)")
            }
        }
        var object: [String: Any] = header.tensors.mapValues { info -> Any in
            ["dtype": info.dtype.rawValue, "shape": info.shape,
             "data_offsets": [info.byteRange.lowerBound - header.dataOffset, info.byteRange.upperBound - header.dataOffset]]
        }
        if !header.metadata.isEmpty { object["__metadata__"] = header.metadata }
        guard let json = try? JSONSerialization.data(withJSONObject: object) else { return problems + ["header does not serialise"] }
        let data = Array(file[min(header.dataOffset, file.count)...])
        switch Result(catching: { () throws(SafeTensorsError) in
            try SafeTensorsHeader.parse(file: safetensorsBytes(header: String(decoding: json, as: UTF8.self), data: data))
        }) {
        case .success(let again):
            let shift = again.dataOffset - header.dataOffset
            let moved = header.tensors.mapValues {
                TensorInfo(dtype: $0.dtype, shape: $0.shape, byteRange: ($0.byteRange.lowerBound + shift)..<($0.byteRange.upperBound + shift))
            }
            if again.tensors != moved { problems.append("tensors differ after a round trip") }
            if again.metadata != header.metadata { problems.append("metadata differs after a round trip") }
        case .failure(let error):
            problems.append("the rewritten header does not parse: \(error)")
        }
        return problems
    }

    @Test("25,000 random and mutated headers never crash or hang, and what parses is consistent")
    func twentyFiveThousandRandomAndMutatedHeadersNeverCrashOrHang() {
        var rng = SplitMix64(seed: 0x5AFE_7E45)
        var parsed = 0, rejections: [SafeTensorsError.Code: Int] = [:]
        var inconsistent: [String] = [], unexpected: [String] = []
        for iteration in 0..<25_000 {
            var file: [UInt8]
            switch iteration % 5 {
            case 0:  // random JSON header with a random data section
                file = safetensorsBytes(header: Self.randomJSON(&rng, depth: 0), data: [UInt8](repeating: 0, count: Int.random(in: 0..<40, using: &rng)))
            case 1, 2:  // mutated valid file (header length, JSON and data all in play)
                let seed = Self.seeds.randomElement(using: &rng)!
                file = Self.mutate(safetensorsBytes(header: seed, data: [UInt8](repeating: 7, count: 24)), &rng)
            case 3:  // mutated JSON text with a correct length prefix
                let seed = Array(Self.seeds.randomElement(using: &rng)!.utf8)
                file = safetensorsBytes(header: String(decoding: Self.mutate(seed, &rng), as: UTF8.self), data: [UInt8](repeating: 0, count: 24))
                if Bool.random(using: &rng) {
                    // raw (possibly invalid UTF-8) header bytes
                    let raw = Self.mutate(seed, &rng)
                    var length = UInt64(raw.count)
                    file = (0..<8).map { _ in defer { length >>= 8 }; return UInt8(length & 0xFF) } + raw + [UInt8](repeating: 0, count: 24)
                }
            default:  // pure noise, sometimes with a plausible length prefix
                let n = Int.random(in: 0..<64, using: &rng)
                file = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if n >= 8, Bool.random(using: &rng) {
                    let length = UInt64.random(in: 0...UInt64(n - 8), using: &rng)
                    for k in 0..<8 { file[k] = UInt8((length >> (8 * UInt64(k))) & 0xFF) }
                }
            }
            guard let outcome = Self.parse(file) else { return }
            switch outcome {
            case .success(let header):
                parsed += 1
                let problems = Self.inconsistencies(header, file: file)
                if !problems.isEmpty { inconsistent.append("input \(iteration): \(problems.joined(separator: "; "))") }
            case .failure(let error):
                rejections[error.code, default: 0] += 1
                if !Self.headerCodes.contains(error.code) || error.message.isEmpty { unexpected.append("input \(iteration): \(error)") }
            }
        }
        let rejected = rejections.values.reduce(0, +)
        #expect(parsed > 100 && rejected > 10_000, "parsed \(parsed), rejected \(rejected)")
        #expect(inconsistent.isEmpty, "\(inconsistent.count) parsed headers are inconsistent:\n\(inconsistent.prefix(10).joined(separator: "\n"))")
        #expect(unexpected.isEmpty, "\(unexpected.count) rejections without a header error code or message:\n\(unexpected.prefix(10).joined(separator: "\n"))")
        print("fuzz: parsed \(parsed); rejected \(rejected): \(rejections.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        // Observed over 9 runs (this seed): parsed 2067; invalid JSON 11386, header not an object 3862, header too
        // large 3388, header beyond file 2060, too short 1053 in every run; missing field 946-1004, invalid metadata
        // 60-114, unknown dtype 56-60, invalid offsets 49-52, size mismatch 11-15, invalid shape 0-1. The spread:
        // for a header with several problems the parser reports the first in Dictionary order, which follows the
        // process's hash seed. Invalid shape (that rare) and overlapping tensors (two valid entries whose ranges
        // cross, which these mutations do not reach) are therefore not required here; SafeTensorsTests checks both.
        let expectedCodes = Self.headerCodes.subtracting([.overlappingTensors, .invalidShape])
        #expect(expectedCodes.isSubset(of: rejections.keys), "codes never produced: \(expectedCodes.subtracting(rejections.keys).map(\.name).sorted())")
    }

    @Test("deeply nested and huge headers are rejected quickly")
    func deeplyNestedAndHugeHeadersAreRejectedQuickly() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(Self.check(safetensorsBytes(header: deep, data: [])))
        let deepObject = String(repeating: "{\"a\":", count: 50_000) + "1" + String(repeating: "}", count: 50_000)
        #expect(Self.check(safetensorsBytes(header: deepObject, data: [])))
        let wide = "{" + (0..<20_000).map { "\"t\($0)\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[\($0),\($0 + 1)]}" }.joined(separator: ",") + "}"
        let header = try? SafeTensorsHeader.parse(file: safetensorsBytes(header: wide, data: [UInt8](repeating: 0, count: 20_000)))
        #expect(header?.tensors.count == 20_000)
    }

    @Test("header strings decode escapes and surrogates and reject invalid UTF-8")
    func headerStringsDecodeEscapesSurrogatesAndRejectInvalidUTF8() throws {
        func metadata(_ value: String) throws -> String? {
            try SafeTensorsHeader.parse(file: safetensorsBytes(header: "{\"__metadata__\":{\"k\":\(value)}}", data: [])).metadata["k"]
        }
        #expect(try metadata(#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#) == "a\"\\/\u{08}\u{0C}\n\r\té😀")
        expectCode(.invalidJSON) { _ = try metadata(#""\ud83d""#) }
        expectCode(.invalidJSON) { _ = try SafeTensorsHeader.parse(file: [5, 0, 0, 0, 0, 0, 0, 0] + Array("{\"".utf8) + [0xC0, 0xAF] + Array("\"".utf8)) }  // overlong '/'
        expectCode(.invalidJSON) { _ = try SafeTensorsHeader.parse(file: [6, 0, 0, 0, 0, 0, 0, 0] + Array("{\"".utf8) + [0xED, 0xA0, 0x80] + Array("\"".utf8)) }  // encoded surrogate
        expectCode(.invalidJSON) { _ = try SafeTensorsHeader.parse(file: safetensorsBytes(header: #"{"a":{},"a":{}}"#, data: [])) }
        expectCode(.invalidShape) { _ = try SafeTensorsHeader.parse(file: safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[1e0],"data_offsets":[0,1]}}"#, data: [0])) }
        expectCode(.invalidJSON) { _ = try SafeTensorsHeader.parse(file: safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}}"#, data: [0])) }
    }
}
