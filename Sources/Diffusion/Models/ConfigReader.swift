import Foundation

/// The keys of a diffusers/transformers config object, read inside a config's `init(from:)` with
/// diffusers' `ConfigMixin.from_config` rules (configuration_utils.py, diffusers 0.42): a key that is
/// absent, null or listed in `_use_default_values` takes the class default.
struct ConfigReader {
    /// Which library error a malformed config becomes.
    enum Errors {
        /// `ModelError.Code.badConfig` naming the file and key (`config.json` of a model).
        case model
        /// `SchedulerError.Code.invalidConfig` naming the key (`scheduler_config.json`).
        case scheduler

        /// A key that is missing where it is required, or holds `found` where `message` says what belongs.
        func malformed(path: String?, key: String, message: String, found: String?, underlying: (any Error)?) -> any Error {
            switch self {
            case .model:
                ModelError(code: .badConfig, origin: path ?? "<config>", tensor: key, message: message, underlying: underlying)
            case .scheduler:
                SchedulerError(.invalidConfig, context: ErrorContext(file: path, item: key),
                               message: found.map { "'\(key)' has the unexpected value \($0); fix scheduler_config.json" } ?? "'\(key)' \(message)",
                               underlying: underlying)
            }
        }

        /// The file is not JSON, or not a JSON object.
        func notAnObject(path: String?, underlying: any Error) -> any Error {
            switch self {
            case .model:
                ModelError(code: .badConfig, origin: path ?? "<config>", message: "is not a JSON object", underlying: underlying)
            case .scheduler:
                SchedulerError(.invalidConfig, context: ErrorContext(file: path), message: "not a JSON object; download scheduler_config.json again",
                               underlying: underlying)
            }
        }
    }

    /// `CodingUserInfoKey` under which `decoder(path:)` passes the file's path.
    static let pathKey = CodingUserInfoKey(rawValue: "sdfarm.configPath")!

    /// A `JSONDecoder` whose configs' errors name `path`.
    static func decoder(path: String?) -> JSONDecoder {
        let decoder = JSONDecoder()
        if let path { decoder.userInfo[pathKey] = path }
        return decoder
    }

    struct Key: CodingKey {
        let stringValue: String
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    let container: KeyedDecodingContainer<Key>
    /// Keys listed in `_use_default_values`.
    let defaulted: Set<String>
    /// The config file's path (nil when the bytes came from elsewhere), for the errors a config throws.
    let file: String?
    let errors: Errors

    /// `file`, or `<config>` when the bytes came from elsewhere.
    var path: String { file ?? "<config>" }

    init(_ decoder: any Decoder, errors: Errors) throws {
        self.errors = errors
        file = decoder.userInfo[Self.pathKey] as? String
        do {
            container = try decoder.container(keyedBy: Key.self)
        } catch {
            throw errors.notAnObject(path: file, underlying: error)
        }
        defaulted = Set((try? container.decodeIfPresent([String].self, forKey: Key("_use_default_values"))) ?? [])
    }

    /// True when the file states `key` (present, not null, not in `_use_default_values`).
    func has(_ key: String) -> Bool {
        guard !defaulted.contains(key), container.contains(Key(key)) else { return false }
        return !((try? container.decodeNil(forKey: Key(key))) ?? true)
    }

    /// The stated value of `key`, nil when the file does not state it.
    func optional<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T? {
        guard has(key) else { return nil }
        do {
            return try container.decode(T.self, forKey: Key(key))
        } catch {
            let found = (try? container.decode(RawJSON.self, forKey: Key(key)))?.description ?? "?"
            throw malformed(key, "must be \(Self.expectation(T.self)), got \(found)", found: found, underlying: error)
        }
    }

    /// The stated value of `key`, else `value` (the class default).
    func callAsFunction<T: Decodable>(_ key: String, default value: T) throws -> T {
        try optional(key) ?? value
    }

    /// The stated value of `key`.
    /// - Throws: "is required" when the file does not state it.
    func required<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard let value = try optional(key, as: T.self) else { throw malformed(key, "is required") }
        return value
    }

    /// An int or a per-level list of ints, expanded to `levels` entries; absent → `value` per level.
    func intOrList(_ key: String, levels: Int, default value: Int? = nil) throws -> [Int] {
        guard has(key) else {
            guard let value else { throw malformed(key, "is required") }
            return Array(repeating: value, count: levels)
        }
        if let n = try? container.decode(Int.self, forKey: Key(key)) { return Array(repeating: n, count: levels) }
        if let list = try? container.decode([Int].self, forKey: Key(key)) {
            guard list.count == levels else { throw malformed(key, "has \(list.count) entries but the model has \(levels) levels") }
            return list
        }
        throw malformed(key, "must be an integer or a list of \(levels) integers")
    }

    /// The library error for `key`.
    func malformed(_ key: String, _ message: String, found: String? = nil, underlying: (any Error)? = nil) -> any Error {
        errors.malformed(path: file, key: key, message: message, found: found, underlying: underlying)
    }

    /// How a message names the JSON type `T` decodes from.
    static func expectation<T>(_: T.Type) -> String {
        switch T.self {
        case is Int.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        case is [Int].Type: "a list of integers"
        case is [Double].Type: "a list of numbers"
        case is [String].Type: "a list of strings"
        default: "a \(T.self)"
        }
    }
}

/// Any JSON value, decoded only to quote it in an error message.
struct RawJSON: Decodable, CustomStringConvertible {
    let description: String

    init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { description = "null" }
        else if let b = try? single.decode(Bool.self) { description = String(b) }
        else if let n = try? single.decode(Double.self) { description = n.rounded() == n && abs(n) < 1e15 ? String(Int(n)) : String(n) }
        else if let s = try? single.decode(String.self) { description = "\"\(s)\"" }
        else if let list = try? single.decode([RawJSON].self) { description = "[" + list.map(\.description).joined(separator: ", ") + "]" }
        else if let object = try? single.decode([String: RawJSON].self) {
            description = "{" + object.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
        } else { description = "?" }
    }
}
