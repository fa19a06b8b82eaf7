public import Foundation

/// A model's JSON config file (`unet/config.json`, `vae/config.json`, `text_encoder/config.json`) read
/// from disk, decoded with `JSONDecoder` into `UNetConfig`, `VAEConfig` or `CLIPTextConfig`.
/// (`SchedulerConfig.load(path:)` reads `scheduler_config.json` the same way, with scheduler errors.)
public struct ConfigFile: Sendable {
    /// Where the bytes came from, for error messages.
    public let path: String
    /// The file's bytes.
    public let data: Data

    /// Reads `path`.
    /// - Throws: `ModelError.Code.missingFile` when the file is missing or unreadable.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(code: .missingFile, origin: path, message: "config file is missing or unreadable")
        }
        self.init(data: data, path: path)
    }

    /// A config from bytes in memory.
    public init(data: Data, path: String = "<config>") {
        self.path = path
        self.data = data
    }

    /// The model config `T` this file holds.
    /// - Throws: `ModelError.Code.badConfig` naming this file and the key that is missing or malformed
    ///   (the decoding error kept as `underlying`), or the config's own `ModelError` for an
    ///   unsupported architecture.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try ConfigReader.decoder(path: path).decode(T.self, from: data)
        } catch let error as DecodingError {
            // Configs report their own keys; only the top level fails here: the bytes are not JSON.
            throw ConfigReader.Errors.model.notAnObject(path: path, underlying: error)
        }
    }
}
