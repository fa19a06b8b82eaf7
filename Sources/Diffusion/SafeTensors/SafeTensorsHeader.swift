/// The validated header of a safetensors file: its tensors, metadata and where the data starts.
///
/// Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data section
/// (huggingface/safetensors, `docs` and `safetensors/src/tensor.rs`).
public struct SafeTensorsHeader: Sendable {
    /// The largest header accepted, as in the reference implementation.
    public static let maxHeaderLength = 100_000_000

    /// Tensors by name.
    public let tensors: [String: TensorInfo]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    /// File offset of the data section (8 + header length).
    public let dataOffset: Int

    /// Parses and validates the header of a whole safetensors file held in memory.
    ///
    /// Every check the loader relies on happens here, so this function is what the fuzz tests drive.
    /// - Parameters:
    ///   - file: the complete file contents (header and data).
    ///   - path: the file's path, for error messages.
    /// - Throws: `SafeTensorsError` naming the first problem found.
    public static func parse(file: UnsafeRawBufferPointer, path: String) throws(SafeTensorsError) -> SafeTensorsHeader {
        func fail(_ code: SafeTensorsError.Code, _ tensor: String? = nil, _ message: String, underlying: (any Error)? = nil) -> SafeTensorsError {
            SafeTensorsError(code, path: path, tensor: tensor, message: message, underlying: underlying)
        }
        let damaged = "the file is damaged or not a safetensors file; download or convert it again"
        guard file.count >= 8 else {
            throw fail(.tooShort, nil, "the file is \(file.count) bytes, shorter than the 8-byte safetensors header length; \(damaged)")
        }
        var length: UInt64 = 0
        for i in (0..<8).reversed() { length = length << 8 | UInt64(file[i]) }
        guard length <= UInt64(maxHeaderLength) else {
            throw fail(.headerTooLarge, nil, "the header length is \(length) bytes, above the 100 MB limit of the format; \(damaged)")
        }
        let headerLength = Int(length)
        guard 8 + headerLength <= file.count else {
            throw fail(.headerBeyondFile, nil, "the header length \(headerLength) runs past the end of the \(file.count)-byte file; the file is truncated (an interrupted download?) — download it again")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)]))
        } catch {
            throw fail(.invalidJSON, nil, "the header is not valid JSON (\(error.message) at header byte \(error.offset)); \(damaged)", underlying: error)
        }
        guard case .object(let entries) = json else {
            throw fail(.headerNotObject, nil, "the header is \(json.kindName), not a JSON object of tensors; \(damaged)")
        }
        let dataOffset = 8 + headerLength
        let dataLength = file.count - dataOffset

        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        tensors.reserveCapacity(entries.count)
        for (name, entry) in entries {
            if name == "__metadata__" {
                guard case .object(let fields) = entry else {
                    throw fail(.invalidMetadata, nil, "'__metadata__' is \(entry.kindName), not an object of strings; \(damaged)")
                }
                for (key, value) in fields {
                    guard case .string(let text) = value else {
                        throw fail(.invalidMetadata, nil, "'__metadata__' key '\(key)' is \(value.kindName), not a string; \(damaged)")
                    }
                    metadata[key] = text
                }
                continue
            }
            guard case .object(let fields) = entry else {
                throw fail(.missingField, name, "the entry is \(entry.kindName), not an object with dtype, shape and data_offsets; \(damaged)")
            }
            for field in ["dtype", "shape", "data_offsets"] where fields[field] == nil {
                throw fail(.missingField, name, "the entry has no '\(field)'; \(damaged)")
            }
            guard case .string(let dtypeName)? = fields["dtype"] else {
                throw fail(.missingField, name, "'dtype' is \(fields["dtype"]!.kindName), not a string; \(damaged)")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail(.unknownDType, name, "unknown dtype '\(dtypeName)' (this reader knows \(known)); convert the checkpoint to F32, F16 or BF16")
            }
            guard case .array(let dims)? = fields["shape"] else {
                throw fail(.invalidShape, name, "'shape' is \(fields["shape"]!.kindName), not a list of integers; \(damaged)")
            }
            var shape: [Int] = []
            shape.reserveCapacity(dims.count)
            var elements = 1
            for dim in dims {
                guard case .integer(let d) = dim, d >= 0 else {
                    throw fail(.invalidShape, name, "shape \(describe(dims)) has a dimension that is not a non-negative integer; \(damaged)")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw fail(.invalidShape, name, "shape \(describe(dims)) has more elements than can be addressed; \(damaged)")
                }
                elements = product
                shape.append(d)
            }
            let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow else {
                throw fail(.invalidShape, name, "shape \(describe(dims)) of \(dtypeName) needs more bytes than can be addressed; \(damaged)")
            }
            guard case .array(let offsets)? = fields["data_offsets"], offsets.count == 2,
                  case .integer(let begin) = offsets[0], case .integer(let end) = offsets[1] else {
                throw fail(.invalidOffsets, name, "'data_offsets' is not a pair of integers [begin, end]; \(damaged)")
            }
            guard begin >= 0, begin <= end else {
                throw fail(.invalidOffsets, name, "data_offsets [\(begin), \(end)] are reversed or negative; \(damaged)")
            }
            guard end <= dataLength else {
                throw fail(.invalidOffsets, name, "data_offsets [\(begin), \(end)] reach past the \(dataLength)-byte data section; the file is truncated or damaged — download it again")
            }
            guard end - begin == byteCount else {
                throw fail(.sizeMismatch, name, "holds \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(elements) × \(dtype.byteSize) = \(byteCount); \(damaged)")
            }
            tensors[name] = TensorInfo(dtype: dtype, shape: shape, byteRange: (dataOffset + begin)..<(dataOffset + end))
        }

        // Overlaps: sort the non-empty ranges and compare neighbours.
        let ordered = tensors.filter { !$0.value.byteRange.isEmpty }
            .sorted { ($0.value.byteRange.lowerBound, $0.key) < ($1.value.byteRange.lowerBound, $1.key) }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.value.byteRange.lowerBound < a.value.byteRange.upperBound {
            throw fail(.overlappingTensors, b.key, "its bytes \(b.value.byteRange.lowerBound - dataOffset)..<\(b.value.byteRange.upperBound - dataOffset) overlap those of '\(a.key)' (\(a.value.byteRange.lowerBound - dataOffset)..<\(a.value.byteRange.upperBound - dataOffset)); \(damaged)")
        }
        return SafeTensorsHeader(tensors: tensors, metadata: metadata, dataOffset: dataOffset)
    }

    /// Parses a file held in a byte array (tests, fuzzing).
    public static func parse(file: [UInt8], path: String = "<memory>") throws(SafeTensorsError) -> SafeTensorsHeader {
        let result: Result<SafeTensorsHeader, SafeTensorsError> = file.withUnsafeBytes { raw in
            do throws(SafeTensorsError) { return .success(try parse(file: raw, path: path)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func describe(_ dims: [JSONValue]) -> String {
        let parts = dims.prefix(8).map { dim -> String in
            switch dim {
            case .integer(let i): String(i)
            case .number(let d): String(d)
            case .string(let s): "\"\(s.prefix(20))\""
            default: dim.kindName
            }
        }
        return "[" + parts.joined(separator: ", ") + (dims.count > 8 ? ", …" : "") + "]"
    }
}
