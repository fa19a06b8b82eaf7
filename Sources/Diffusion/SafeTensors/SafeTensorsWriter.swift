public import Tensor
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes float32 tensors as a safetensors file.
public struct SafeTensorsWriter {
    /// Writes `tensors` (F32, in the given order) and `metadata` to `path` atomically: the bytes go to a
    /// temporary file in the same folder, which is renamed over `path`.
    /// - Throws: `SafeTensorsError.Code.writeFailed` for duplicate names or I/O failures.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String) throws {
        let file = try encode(tensors, metadata: metadata, path: path)
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try file.write(to: temporary)
            // rename(2) replaces the destination atomically.
            guard rename(temporary.path, url.path) == 0 else {
                throw SafeTensorsError(.writeFailed, path: path, message: "cannot rename the temporary file into place (\(String(cString: strerror(errno))))")
            }
        } catch let error as SafeTensorsError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SafeTensorsError(.writeFailed, path: path, message: "cannot write the file (\(error.localizedDescription)); check that the folder exists and is writable",
                                   underlying: error)
        }
    }

    /// The bytes of a safetensors file holding `tensors` as F32.
    static func encode(_ tensors: [(String, Tensor)], metadata: [String: String], path: String) throws(SafeTensorsError) -> Data {
        var seen = Set<String>()
        var entries: [String] = []
        var offset = 0
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        for (name, tensor) in tensors {
            guard name != "__metadata__", seen.insert(name).inserted else {
                throw SafeTensorsError(.writeFailed, path: path, tensor: name, message: "the name is used twice or is reserved; give every tensor a unique name")
            }
            let bytes = tensor.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var data = Data(capacity: 8 + header.count + offset)
        var length = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for (_, tensor) in tensors {
            tensor.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: $0.baseAddress, count: $0.count)) }
        }
        return data
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
