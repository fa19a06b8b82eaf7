import Foundation
import RenderFormat

/// The A1111 model hash of a weights file, computed on a thread of its own while the weights load: reading and
/// hashing a 2–4 GB file then costs the load almost nothing on a machine with a second core.
final class ModelHashing: @unchecked Sendable {
    // reason: `result` is written once by the hashing thread before it signals `done`, and read only after `wait`.
    private var result: Result<String, any Error>?
    private let done = DispatchSemaphore(value: 0)

    /// Starts hashing the file at `path`.
    init(path: String) {
        let thread = Thread { [self] in
            result = Result { try GenerationParameters.modelHash(path: path) }
            done.signal()
        }
        thread.name = "sdfarm model hash"
        thread.start()
    }

    /// The hash, once the thread is done.
    /// - Throws: what `GenerationParameters.modelHash` threw.
    func wait() throws -> String {
        done.wait()
        done.signal()  // a second wait returns at once
        return try result!.get()
    }
}
