public import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A safetensors file mapped read-only into memory, its whole header validated up front.
///
/// Tensors are converted to float32 on request; `rawBytes` gives the stored bytes without a copy.
/// Pickle checkpoints (`.ckpt`, `.pt`, `.pth`, `.bin`, or zip/pickle content) are refused: loading
/// them means unpickling, which runs arbitrary code.
// reason: every stored property is a let, and `mapping` is a PROT_READ mapping unmapped only in deinit.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The file's path as given.
    public let path: String
    /// The validated header.
    public let header: SafeTensorsHeader
    private let mapping: UnsafeRawBufferPointer

    /// Extensions of PyTorch pickle checkpoints.
    public static let pickleExtensions: Set<String> = ["ckpt", "pt", "pth", "bin", "pkl", "pickle"]

    /// Maps `path` (PROT_READ, MAP_PRIVATE) and validates its header.
    /// - Throws: `SafeTensorsError` for a missing or unreadable file, a pickle checkpoint, or any header problem.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            let code = errno
            if code == ENOENT {
                throw SafeTensorsError(.fileNotFound, path: path, message: "no such file; check the path (a diffusers folder keeps weights in e.g. unet/diffusion_pytorch_model.safetensors)")
            }
            throw SafeTensorsError(.unreadable, path: path, message: "cannot open the file (\(String(cString: strerror(code)))); check its permissions")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw SafeTensorsError(.unreadable, path: path, message: "cannot stat the file (\(String(cString: strerror(errno))))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw SafeTensorsError(.unreadable, path: path, message: "not a regular file; pass the path of a .safetensors file")
        }
        let size = Int(status.st_size)
        let ext = path.split(separator: "/").last.flatMap { name in name.contains(".") ? name.split(separator: ".").last.map { $0.lowercased() } : nil } ?? ""
        if Self.pickleExtensions.contains(ext) {
            throw SafeTensorsError(.pickleCheckpoint, path: path, message: Self.pickleAdvice(reason: "a .\(ext) file is a PyTorch pickle checkpoint"))
        }
        guard size > 0 else {
            throw SafeTensorsError(.tooShort, path: path, message: "the file is empty (0 bytes); it was not downloaded or converted completely — fetch it again")
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw SafeTensorsError(.unreadable, path: path, message: "cannot map the file into memory (\(String(cString: strerror(errno)))); check free address space and the file system")
        }
        let bytes = UnsafeRawBufferPointer(start: base, count: size)
        do {
            if let reason = Self.pickleSignature(bytes) {
                throw SafeTensorsError(.pickleCheckpoint, path: path, message: Self.pickleAdvice(reason: reason))
            }
            header = try SafeTensorsHeader.parse(file: bytes, path: path)
        } catch {
            munmap(base, size)
            throw error
        }
        mapping = bytes
    }

    deinit {
        if let base = mapping.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), mapping.count) }
    }

    /// Tensor names, sorted.
    public var names: [String] { header.tensors.keys.sorted() }

    /// The `__metadata__` strings.
    public var metadata: [String: String] { header.metadata }

    /// Where the named tensor lives, nil when absent.
    public func info(_ name: String) -> TensorInfo? { header.tensors[name] }

    /// The named tensor converted to float32.
    /// - Throws: `SafeTensorsError.Code.missingTensor` naming the tensor and the file.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try requireInfo(name)
        let source = UnsafeRawBufferPointer(rebasing: mapping[info.byteRange])
        let tensor = Tensor(shape: info.shape) { destination in
            FloatConversion.convert(source, dtype: info.dtype, into: destination)
        }
        releasePages(info.byteRange)
        return tensor
    }

    /// Drops the mapped file pages wholly inside `range` from this process's resident set: the
    /// converted copy is what the model keeps, so loading a checkpoint does not hold the file and
    /// its float32 copy in memory at the same time. The pages are re-read from the file if touched.
    private func releasePages(_ range: Range<Int>) {
        guard let base = mapping.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound / page * page
        if end > start {
            _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
        }
    }

    /// Calls `body` with the stored bytes of the named tensor, without a copy; the pointer must not
    /// be kept past `body`.
    /// - Throws: `SafeTensorsError.Code.missingTensor` naming the tensor and the file, or what `body` throws.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let bytes = UnsafeRawBufferPointer(rebasing: mapping[try requireInfo(name).byteRange])
        return try withExtendedLifetime(self) { try body(bytes) }
    }

    /// The stored bytes of the named tensor; valid only while this object lives.
    ///
    /// Prefer `withRawBytes`, which cannot outlive the mapping; this remains for callers not yet moved.
    /// - Throws: `SafeTensorsError.Code.missingTensor` naming the tensor and the file.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping[try requireInfo(name).byteRange])
    }

    private func requireInfo(_ name: String) throws(SafeTensorsError) -> TensorInfo {
        guard let info = header.tensors[name] else {
            throw SafeTensorsError(.missingTensor, path: path, tensor: name,
                                   message: "not in this file (\(header.tensors.count) tensors); the checkpoint is incomplete or of another architecture")
        }
        return info
    }

    /// Why `bytes` look like a pickle (zip archive or bare pickle) rather than safetensors, or nil.
    ///
    /// A plausible safetensors start (a header length inside the file followed by `{`) wins, since a
    /// header length can begin with the byte 0x80.
    static func pickleSignature(_ bytes: UnsafeRawBufferPointer) -> String? {
        if bytes.count >= 9 {
            var length: UInt64 = 0
            for i in (0..<8).reversed() { length = length << 8 | UInt64(bytes[i]) }
            if length <= UInt64(bytes.count - 8), bytes[8] == UInt8(ascii: "{") { return nil }
        }
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03, bytes[3] == 0x04 {
            return "the file is a zip archive (torch.save's format, holding a pickle)"
        }
        if bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) {
            return "the file starts with a pickle protocol \(bytes[1]) header (a legacy torch.save checkpoint)"
        }
        return nil
    }

    static func pickleAdvice(reason: String) -> String {
        "\(reason). Pickle checkpoints are refused because unpickling runs arbitrary code from the file. "
            + "Convert it once, in a trusted environment, to .safetensors: e.g. diffusers' "
            + "scripts/convert_original_stable_diffusion_to_diffusers.py --checkpoint_path FILE --to_safetensors, "
            + "or in Python `safetensors.torch.save_file(torch.load(FILE, weights_only=True)[\"state_dict\"], \"model.safetensors\")`; "
            + "or download the .safetensors version of the model"
    }
}
