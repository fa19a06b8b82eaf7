import Basics
public import Diffusion
public import Farm
import Foundation
import Imaging
import RenderFormat

/// Init images in shared storage, content-addressed: `<storage>/inputs/<sha256>.png`. Submission reads and
/// checks the picture first (`read`), validates the whole batch, and only then copies it (`store`).
public enum InitImageStore {
    /// A picture read and checked, not yet stored.
    public struct Prepared: Sendable {
        public let bytes: [UInt8]
        public let image: InitImage
        public let reference: GridSpec.InitImageRef
    }

    /// Reads the PNG at `path` and checks it is an 8-bit picture the engine can start from.
    /// - Throws: `ModelError` naming the file when it is missing, not a PNG or 16-bit.
    public static func read(_ path: String) throws -> Prepared {
        try prepare(try InitImage.readBytes(path: path), path: path)
    }

    /// Checks PNG `bytes` (named `path` in errors; an upload has none) as `read` does.
    /// - Throws: `ModelError` when they are not an 8-bit PNG.
    public static func prepare(_ bytes: [UInt8], path: String) throws -> Prepared {
        let image = try InitImage.decode(bytes, path: path, strength: 1)
        let digest = SHA256.hex(SHA256.hash(bytes))
        let input = try InitImageInput(sha256: digest)
        return Prepared(bytes: bytes, image: image,
                        reference: GridSpec.InitImageRef(path: input.storagePath, sha256: digest, width: image.image.width, height: image.image.height))
    }

    /// Copies a prepared picture to its content address under `storage` (atomically; skipped when the same
    /// bytes are already there).
    /// - Throws: `FarmError(.io)` when the storage is not writable.
    public static func store(_ prepared: Prepared, storage: String) throws {
        let target = (storage as NSString).appendingPathComponent(prepared.reference.path)
        let existing = FileManager.default.contents(atPath: target).map { SHA256.hex(SHA256.hash([UInt8]($0))) }
        guard existing != prepared.reference.sha256 else { return }
        do {
            try AtomicFile.createDirectory((target as NSString).deletingLastPathComponent)
            try AtomicFile.write(prepared.bytes, to: target)
        } catch {
            throw FarmError(.io, "cannot copy the init image to the shared storage \(storage) (\(error)); give the storage folder the workers use",
                            underlying: error)
        }
    }
}
