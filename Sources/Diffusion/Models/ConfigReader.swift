/// The keys of a diffusers/transformers config object, read inside a config's `init(from:)` with
/// diffusers' `ConfigMixin.from_config` rules (configuration_utils.py, diffusers 0.42): a key that is
/// absent, null or listed in `_use_default_values` takes the class default.
struct ConfigReader {
    /// A key that is missing where it is required, or holds a value of the wrong type.
    struct Problem: Error {
        /// The config key, nil for a problem with the whole file.
        let key: String?
        /// What is wrong, e.g. `must be an integer, got "64"`.
        let message: String
        let underlying: (any Error)?
        /// The JSON the file holds at `key` (nil when the key is absent).
        var found: String? = nil
    }

    /// `CodingUserInfoKey` under which `ConfigFile` passes its path.
    static let pathKey = CodingUserInfoKey(rawValue: "sdfarm.configPath")!

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
    /// The config file's path, for the errors a config throws itself.
    let path: String

    init(_ decoder: any Decoder) throws {
        do {
            container = try decoder.container(keyedBy: Key.self)
        } catch {
            throw Problem(key: nil, message: "is not a JSON object", underlying: error)
        }
        path = decoder.userInfo[Self.pathKey] as? String ?? "<config>"
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
            throw Problem(key: key, message: "must be \(Self.expectation(T.self)), got \(found)", underlying: error, found: found)
        }
    }

    /// The stated value of `key`, else `value` (the class default).
    func callAsFunction<T: Decodable>(_ key: String, default value: T) throws -> T {
        try optional(key) ?? value
    }

    /// The stated value of `key`.
    /// - Throws: `Problem` "is required" when the file does not state it.
    func required<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard let value = try optional(key, as: T.self) else { throw Problem(key: key, message: "is required", underlying: nil) }
        return value
    }

    /// An int or a per-level list of ints, expanded to `levels` entries; absent → `value` per level.
    func intOrList(_ key: String, levels: Int, default value: Int? = nil) throws -> [Int] {
        guard has(key) else {
            guard let value else { throw Problem(key: key, message: "is required", underlying: nil) }
            return Array(repeating: value, count: levels)
        }
        if let n = try? container.decode(Int.self, forKey: Key(key)) { return Array(repeating: n, count: levels) }
        if let list = try? container.decode([Int].self, forKey: Key(key)) {
            guard list.count == levels else {
                throw Problem(key: key, message: "has \(list.count) entries but the model has \(levels) levels", underlying: nil)
            }
            return list
        }
        throw Problem(key: key, message: "must be an integer or a list of \(levels) integers", underlying: nil)
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
