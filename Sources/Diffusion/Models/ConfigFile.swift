import Foundation

/// A JSON config file (`config.json`, `model_index.json`) with typed, error-reporting accessors.
public struct ConfigFile: @unchecked Sendable {
    public let path: String
    public let values: [String: Any]

    /// Reads and parses a JSON object from `path`.
    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(code: .missingFile, origin: path, message: "config file is missing or unreadable")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw ModelError(code: .badConfig, origin: path, message: "is not a JSON object")
        }
        values = dict
    }

    /// A config from an in-memory dictionary.
    public init(values: [String: Any], path: String = "<config>") {
        self.values = values
        self.path = path
    }

    public func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    public func int(_ key: String, default value: Int? = nil) throws -> Int {
        if let n = values[key] as? NSNumber, n.doubleValue == n.doubleValue.rounded() { return n.intValue }
        if !has(key), let value { return value }
        throw ModelError(code: .badConfig, origin: path, tensor: key, message: has(key) ? "must be an integer, got \(values[key]!)" : "is required")
    }

    public func double(_ key: String, default value: Double? = nil) throws -> Double {
        if let n = values[key] as? NSNumber { return n.doubleValue }
        if !has(key), let value { return value }
        throw ModelError(code: .badConfig, origin: path, tensor: key, message: has(key) ? "must be a number" : "is required")
    }

    public func bool(_ key: String, default value: Bool) throws -> Bool {
        if !has(key) { return value }
        if let b = values[key] as? Bool { return b }
        throw ModelError(code: .badConfig, origin: path, tensor: key, message: "must be true or false")
    }

    public func string(_ key: String, default value: String? = nil) throws -> String {
        if let s = values[key] as? String { return s }
        if !has(key), let value { return value }
        throw ModelError(code: .badConfig, origin: path, tensor: key, message: has(key) ? "must be a string" : "is required")
    }

    public func ints(_ key: String, default value: [Int]? = nil) throws -> [Int] {
        if let a = values[key] as? [NSNumber] { return a.map(\.intValue) }
        if !has(key), let value { return value }
        throw ModelError(code: .badConfig, origin: path, tensor: key, message: has(key) ? "must be a list of integers" : "is required")
    }

    public func strings(_ key: String, default value: [String]? = nil) throws -> [String] {
        if let a = values[key] as? [String] { return a }
        if !has(key), let value { return value }
        throw ModelError(code: .badConfig, origin: path, tensor: key, message: has(key) ? "must be a list of strings" : "is required")
    }

    /// An int or a per-level list of ints, expanded to `levels` entries.
    public func intOrList(_ key: String, levels: Int, default value: Int? = nil) throws -> [Int] {
        if let n = values[key] as? NSNumber { return Array(repeating: n.intValue, count: levels) }
        if let a = values[key] as? [NSNumber] {
            guard a.count == levels else {
                throw ModelError(code: .badConfig, origin: path, tensor: key, message: "has \(a.count) entries but the model has \(levels) levels")
            }
            return a.map(\.intValue)
        }
        if !has(key), let value { return Array(repeating: value, count: levels) }
        throw ModelError(code: .badConfig, origin: path, tensor: key, message: "must be an integer or a list of \(levels) integers")
    }
}
