import Foundation
import Testing
import Diffusion
import Tensor
import TestSupport

/// Builds a safetensors file from a header JSON string and a data section.
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    let json = Array(header.utf8)
    var bytes: [UInt8] = []
    var length = UInt64(json.count)
    for _ in 0..<8 { bytes.append(UInt8(length & 0xFF)); length >>= 8 }
    return bytes + json + data
}

func expectCode(_ code: SafeTensorsError.Code, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch let error as SafeTensorsError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected SafeTensorsError, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct SafeTensorsTests {
    @Test("written tensors read back unchanged, with sorted names and metadata")
    func writtenTensorsReadBackUnchangedWithSortedNamesAndMetadata() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        let path = folder.path("a.safetensors")
        let a = Tensor(shape: [2, 3], values: [1, -2, 3.5, .infinity, 0, -0.0])
        let b = Tensor(shape: [], values: [42])
        let c = Tensor(zeros: [0, 4])
        try SafeTensorsWriter.write([("zeta", a), ("alpha\"\\quote", b), ("empty", c)], metadata: ["format": "pt", "note": "a\nb"], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.names == ["alpha\"\\quote", "empty", "zeta"])
        #expect(file.metadata == ["format": "pt", "note": "a\nb"])
        #expect(try file.tensor("zeta").shape == [2, 3])
        #expect(try file.tensor("zeta").scalars.map(\.bitPattern) == a.scalars.map(\.bitPattern))
        #expect(try file.tensor("alpha\"\\quote").scalars == [42])
        #expect(try file.tensor("empty").shape == [0, 4])
        #expect(file.info("zeta")?.dtype == .f32)
        #expect(try file.withRawBytes("zeta") { $0.count } == 24)
        expectCode(.missingTensor) { _ = try file.tensor("nope") }
        do { _ = try file.tensor("nope") } catch let error as SafeTensorsError {
            #expect(error.description.contains("nope") && error.description.contains(path))
        }
    }

    @Test("writing replaces an existing file atomically and rejects duplicate names")
    func writingReplacesAnExistingFileAtomicallyAndRejectsDuplicateNames() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        let path = folder.path("b.safetensors")
        try SafeTensorsWriter.write([("x", Tensor(shape: [1], values: [1]))], to: path)
        try SafeTensorsWriter.write([("y", Tensor(shape: [1], values: [2]))], to: path)
        #expect(try SafeTensorsFile(path: path).names == ["y"])
        expectCode(.writeFailed) { try SafeTensorsWriter.write([("x", Tensor(zeros: [1])), ("x", Tensor(zeros: [1]))], to: folder.path("c.safetensors")) }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test("half precision converts exactly for every bit pattern")
    func halfPrecisionConvertsExactlyForEveryBitPattern() {
        // Independent reference: value = (-1)^s · 2^(e−15) · (1 + m/1024), subnormals 2^−14 · m/1024.
        for bits in 0...0xFFFF {
            let h = UInt16(bits)
            let converted = FloatConversion.float(fromHalfBits: h)
            let s = (bits >> 15) & 1, e = (bits >> 10) & 0x1F, m = bits & 0x3FF
            if e == 0x1F {
                if m == 0 { #expect(converted == (s == 1 ? -Float.infinity : .infinity)) } else {
                    #expect(converted.isNaN)
                    #expect(converted.bitPattern & 0x7FFFFF == UInt32(m) << 13)
                }
                continue
            }
            let magnitude = e == 0 ? Double(m) / 1024 * pow(2, -14) : (1 + Double(m) / 1024) * pow(2, Double(e - 15))
            let expected = Float(s == 1 ? -magnitude : magnitude)
            if converted.bitPattern != expected.bitPattern { Issue.record("half \(bits): \(converted) ≠ \(expected)"); return }
        }
    }

    @Test("bfloat16 and float8 convert exactly")
    func bfloat16AndFloat8ConvertExactly() {
        #expect(FloatConversion.float(fromBFloat16Bits: 0x3F80) == 1)
        #expect(FloatConversion.float(fromBFloat16Bits: 0xC040) == -3)
        #expect(FloatConversion.float(fromBFloat16Bits: 0x7F80) == .infinity)
        #expect(FloatConversion.float(fromBFloat16Bits: 0x0001) == Float(bitPattern: 0x10000))  // subnormal
        #expect(FloatConversion.float(fromBFloat16Bits: 0x7FC1).isNaN)
        #expect(FloatConversion.float(fromE4M3: 0x38) == 1)
        #expect(FloatConversion.float(fromE4M3: 0x7E) == 448)
        #expect(FloatConversion.float(fromE4M3: 0x01) == 0x1p-9)
        #expect(FloatConversion.float(fromE4M3: 0x7F).isNaN)
        #expect(FloatConversion.float(fromE5M2: 0x3C) == 1)
        #expect(FloatConversion.float(fromE5M2: 0x7C) == .infinity)
    }

    @Test("every stored type is read as float32")
    func everyStoredTypeIsReadAsFloat32() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        // f16 [1, -2, 65504, 2^-24], bf16 [1, -0.5], f64 [0.1], i64 [-7], u8 [255], bool [0, 1]
        var data: [UInt8] = []
        for h: UInt16 in [0x3C00, 0xC000, 0x7BFF, 0x0001] { data += [UInt8(h & 0xFF), UInt8(h >> 8)] }
        for b: UInt16 in [0x3F80, 0xBF00] { data += [UInt8(b & 0xFF), UInt8(b >> 8)] }
        withUnsafeBytes(of: (0.1 as Double).bitPattern.littleEndian) { data += $0 }
        withUnsafeBytes(of: (-7 as Int64).littleEndian) { data += $0 }
        data += [255, 0, 1]
        let header = """
        {"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},\
        "d":{"dtype":"F64","shape":[1],"data_offsets":[12,20]},"i":{"dtype":"I64","shape":[],"data_offsets":[20,28]},\
        "u":{"dtype":"U8","shape":[1],"data_offsets":[28,29]},"t":{"dtype":"BOOL","shape":[2],"data_offsets":[29,31]}}
        """
        let path = folder.path("types.safetensors")
        _ = FileManager.default.createFile(atPath: path, contents: Data(safetensorsBytes(header: header, data: data)))
        let file = try SafeTensorsFile(path: path)
        #expect(try file.tensor("h").scalars == [1, -2, 65504, 0x1p-24])
        #expect(try file.tensor("b").scalars == [1, -0.5])
        #expect(try file.tensor("d").scalars == [Float(0.1)])
        #expect(try file.tensor("i").scalars == [-7])
        #expect(try file.tensor("i").shape == [])
        #expect(try file.tensor("u").scalars == [255])
        #expect(try file.tensor("t").scalars == [0, 1])
        #expect(file.info("h")?.byteRange.count == 8)
    }

    @Test("converting hundreds of megabytes of halfs is fast")
    func convertingHundredsOfMegabytesOfHalfsIsFast() throws {
        // 64 Mi halfs = 128 MB (random bits, so many subnormals/NaNs); measured 0.36 s here including the
        // 256 MB output allocation. A branch-free variant (scale by 2¹¹²) measured 0.49 s and was not kept.
        let count = 64 << 20
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * count, alignment: 64)
        defer { source.deallocate() }
        for i in 0..<count { source.storeBytes(of: UInt16(truncatingIfNeeded: i &* 2654435761), toByteOffset: 2 * i, as: UInt16.self) }
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            let t = Tensor(shape: [count]) { FloatConversion.convert(UnsafeRawBufferPointer(source), dtype: .f16, into: $0) }
            #expect(t.count == count)
        }
        #expect(elapsed < .seconds(3), "fp16 conversion of 128 MB took \(elapsed)")
    }

    // MARK: - Corruption: each problem has its own error

    @Test("missing files, empty files and folders are reported distinctly")
    func missingFilesEmptyFilesAndFoldersAreReportedDistinctly() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        expectCode(.fileNotFound) { _ = try SafeTensorsFile(path: folder.path("absent.safetensors")) }
        expectCode(.unreadable) { _ = try SafeTensorsFile(path: folder.url.path) }
        _ = FileManager.default.createFile(atPath: folder.path("empty.safetensors"), contents: Data())
        expectCode(.tooShort) { _ = try SafeTensorsFile(path: folder.path("empty.safetensors")) }
        _ = FileManager.default.createFile(atPath: folder.path("short.safetensors"), contents: Data([1, 2, 3]))
        expectCode(.tooShort) { _ = try SafeTensorsFile(path: folder.path("short.safetensors")) }
        if getuid() != 0 {
            let locked = folder.path("locked.safetensors")
            try SafeTensorsWriter.write([("x", Tensor(zeros: [1]))], to: locked)
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: locked)
            expectCode(.unreadable) { _ = try SafeTensorsFile(path: locked) }
        }
    }

    @Test("pickle checkpoints are refused by extension and by content")
    func pickleCheckpointsAreRefusedByExtensionAndByContent() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        for name in ["model.ckpt", "model.pt", "model.pth", "pytorch_model.bin"] {
            _ = FileManager.default.createFile(atPath: folder.path(name), contents: Data([0x80, 0x02, 0x7D, 0x71]))
            expectCode(.pickleCheckpoint) { _ = try SafeTensorsFile(path: folder.path(name)) }
        }
        _ = FileManager.default.createFile(atPath: folder.path("zip.safetensors"), contents: Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 60)))
        expectCode(.pickleCheckpoint) { _ = try SafeTensorsFile(path: folder.path("zip.safetensors")) }
        _ = FileManager.default.createFile(atPath: folder.path("legacy.safetensors"), contents: Data([0x80, 0x02, 0x8A, 0x0A] + [UInt8](repeating: 0, count: 60)))
        do { _ = try SafeTensorsFile(path: folder.path("legacy.safetensors")) } catch let error as SafeTensorsError {
            #expect(error.code == .pickleCheckpoint)
            #expect(error.message.contains("arbitrary code"))
            #expect(error.message.contains("safetensors"))
        }
        // A real safetensors file whose header length starts with 0x80 is not mistaken for a pickle.
        let padded = "{" + String(repeating: " ", count: 0x280 - 3) + "}\n"
        #expect(throws: Never.self) { _ = try SafeTensorsHeader.parse(file: safetensorsBytes(header: padded, data: [])) }
    }

    @Test("a header length beyond the file or above 100 MB is rejected")
    func headerLengthBeyondTheFileOrAbove100MBIsRejected() {
        expectCode(.headerBeyondFile) { _ = try SafeTensorsHeader.parse(file: [100, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)) }
        expectCode(.headerTooLarge) { _ = try SafeTensorsHeader.parse(file: [0, 0, 0, 0, 1, 0, 0, 0, 0x7B, 0x7D]) }
        expectCode(.headerTooLarge) { _ = try SafeTensorsHeader.parse(file: [UInt8](repeating: 0xFF, count: 16)) }
    }

    @Test("each header problem gets its own error code", arguments: [
        ("{\"a\":", SafeTensorsError.Code.invalidJSON),
        ("{\"a\":1,}", .invalidJSON),
        ("{\"a\":{} } x", .invalidJSON),
        ("[1,2]", .headerNotObject),
        ("\"text\"", .headerNotObject),
        ("{\"a\":5}", .missingField),
        ("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", .missingField),
        ("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", .missingField),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", .missingField),
        ("{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", .unknownDType),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", .invalidShape),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", .invalidShape),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", .invalidShape),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", .invalidShape),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", .invalidShape),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", .invalidOffsets),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", .invalidOffsets),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", .invalidOffsets),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", .invalidOffsets),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", .sizeMismatch),
        ("{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", .sizeMismatch),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,4]}}", .overlappingTensors),
        ("{\"__metadata__\":{\"k\":1}}", .invalidMetadata),
        ("{\"__metadata__\":[]}", .invalidMetadata),
    ])
    func eachHeaderProblemGetsItsOwnError(header: String, code: SafeTensorsError.Code) {
        // An 8-byte data section.
        expectCode(code) { _ = try SafeTensorsHeader.parse(file: safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8))) }
    }

    @Test("corruptions of a written file are detected on open")
    func corruptionsOfAWrittenFileAreDetectedOnOpen() throws {
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        let good = folder.path("good.safetensors")
        try SafeTensorsWriter.write([("w", Tensor(shape: [2, 2], values: [1, 2, 3, 4])), ("b", Tensor(shape: [2], values: [5, 6]))], to: good)
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        let headerLength = Int(original[0]) | Int(original[1]) << 8
        let header = String(decoding: original[8..<(8 + headerLength)], as: UTF8.self)
        func variant(_ name: String, _ bytes: [UInt8]) -> String {
            let path = folder.path(name)
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return path
        }
        // Truncated data section: offsets now reach past the end.
        expectCode(.invalidOffsets) { _ = try SafeTensorsFile(path: variant("truncated.safetensors", Array(original.dropLast(4)))) }
        // Truncated inside the header.
        expectCode(.headerBeyondFile) { _ = try SafeTensorsFile(path: variant("cut.safetensors", Array(original.prefix(20)))) }
        // A flipped byte in the JSON.
        var flipped = original
        flipped[8] = UInt8(ascii: "[")
        expectCode(.invalidJSON) { _ = try SafeTensorsFile(path: variant("flipped.safetensors", flipped)) }
        // Same-length edits of the header text.
        func edited(_ from: String, _ to: String) -> [UInt8] {
            precondition(from.utf8.count == to.utf8.count)
            return Array(original.prefix(8)) + Array(header.replacingOccurrences(of: from, with: to).utf8) + Array(original.suffix(from: 8 + headerLength))
        }
        expectCode(.unknownDType) { _ = try SafeTensorsFile(path: variant("dtype.safetensors", edited("\"F32\"", "\"Q32\""))) }
        expectCode(.sizeMismatch) { _ = try SafeTensorsFile(path: variant("size.safetensors", edited("[2,2]", "[2,3]"))) }
        expectCode(.overlappingTensors) { _ = try SafeTensorsFile(path: variant("overlap.safetensors", edited("[16,24]", "[12,20]"))) }
        expectCode(.invalidOffsets) { _ = try SafeTensorsFile(path: variant("reversed.safetensors", edited("[0,16]", "[16,0]"))) }
        expectCode(.missingField) { _ = try SafeTensorsFile(path: variant("field.safetensors", edited("\"shape\"", "\"shapf\""))) }
    }

    @Test("the tiny models' weights in fp32, fp16 and bf16 match an independent conversion")
    func tinyModelWeightsInFP32FP16AndBF16MatchAnIndependentConversion() throws {
        let root = try Fixtures.required("models")
        let enumerator = FileManager.default.enumerator(atPath: root)
        var checked = 0
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".safetensors") else { continue }
            let file = try SafeTensorsFile(path: root + "/" + relative)
            for name in file.names {
                guard let info = file.info(name) else { continue }
                let raw = try file.rawBytes(name)
                let values = try file.tensor(name).scalars
                #expect(values.count == info.elementCount)
                for i in 0..<values.count {
                    let expected: Float
                    switch info.dtype {
                    case .f32: expected = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                    case .f16:
                        let h = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                        let s = h >> 15, e = Int(h >> 10 & 0x1F), m = Double(h & 0x3FF)
                        let magnitude = e == 0 ? m * 0x1p-24 : (e == 31 ? (m == 0 ? .infinity : .nan) : (1 + m / 1024) * pow(2, Double(e - 15)))
                        expected = Float(s == 1 ? -magnitude : magnitude)
                    case .bf16:
                        // bf16 is the top half of a float32: widen through the bytes, not the bit trick.
                        let lo = raw[2 * i], hi = raw[2 * i + 1]
                        let bytes: [UInt8] = [0, 0, lo, hi]
                        expected = bytes.withUnsafeBytes { $0.load(as: Float.self) }
                    case .i64: expected = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                    case .i32: expected = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
                    case .u8: expected = Float(raw[i])
                    default: continue
                    }
                    if !(expected.isNaN && values[i].isNaN) && expected.bitPattern != values[i].bitPattern {
                        Issue.record("\(relative) \(name)[\(i)]: \(values[i]) ≠ \(expected)")
                        break
                    }
                }
                checked += 1
            }
        }
        #expect(checked > 0)
    }

    @Test("a bfloat16 copy of the tiny UNet reads back as the rounded values")
    func aBFloat16CopyOfTheTinyUNetReadsBackAsTheRoundedValues() throws {
        // Besides tiny-sd-c's bf16 files (checked above): round tiny-sd-a's fp32 UNet to bf16 (nearest-even)
        // here, write the file by hand, and expect exactly the rounded values back.
        let source = try SafeTensorsFile(path: Fixtures.required("models/tiny-sd-a/unet/diffusion_pytorch_model.safetensors"))
        var entries: [String] = [], data: [UInt8] = [], expected: [String: [Float]] = [:]
        for name in source.names {
            let values = try source.tensor(name).scalars
            let start = data.count
            var rounded: [Float] = []
            for v in values {
                let bits = v.bitPattern
                let upper = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
                data += [UInt8(upper & 0xFF), UInt8(upper >> 8)]
                rounded.append(Float(bitPattern: UInt32(upper) << 16))
            }
            expected[name] = rounded
            let shape = try source.tensor(name).shape.map(String.init).joined(separator: ",")
            entries.append("\"\(name)\":{\"dtype\":\"BF16\",\"shape\":[\(shape)],\"data_offsets\":[\(start),\(data.count)]}")
        }
        let folder = try ScratchDirectory()
        defer { folder.remove() }
        let path = folder.path("unet-bf16.safetensors")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(safetensorsBytes(header: "{" + entries.joined(separator: ",") + "}", data: data))))
        let file = try SafeTensorsFile(path: path)
        #expect(file.names == source.names)
        var maxDiff: Float = 0
        for name in file.names {
            let ours = try file.tensor(name).scalars
            #expect(ours == expected[name], "\(name)")
            for (a, b) in zip(ours, try source.tensor(name).scalars) { maxDiff = max(maxDiff, abs(a - b)) }
        }
        #expect(maxDiff > 0 && maxDiff < 0.05, "bf16 rounding error \(maxDiff)")
    }
}
