import Basics
public import Tensor
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes float32 tensors as a safetensors file.
public struct SafeTensorsWriter {
    /// Writes `tensors` (F32, in the given order) and `metadata` to `path` through the one atomic writer
    /// (`Basics.AtomicFile`: temporary sibling, fsync, rename, directory fsync).
    /// - Throws: `SafeTensorsError.Code.writeFailed` for duplicate names or I/O failures.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String) throws {
        let file = try encode(tensors, metadata: metadata, path: path)
        do { try AtomicFile.write([UInt8](file), to: path) } catch {
            throw SafeTensorsError(.writeFailed, path: path, message: "cannot write the file (\(error)); check that the folder exists and is writable",
                                   underlying: error)
        }
    }

    /// The bytes of a safetensors file holding `tensors` as F32.
    static func encode(_ tensors: [(String, Tensor)], metadata: [String: String], path: String) throws(SafeTensorsError) -> Data {
        var seen = Set<String>()
        var entries: [String] = []
        var offset = 0
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\(JSONString.quoted($0.key)):\(JSONString.quoted($0.value))" }
            entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        for (name, tensor) in tensors {
            guard name != "__metadata__", seen.insert(name).inserted else {
                throw SafeTensorsError(.writeFailed, path: path, tensor: name, message: "the name is used twice or is reserved; give every tensor a unique name")
            }
            let bytes = tensor.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\(JSONString.quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
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
}
