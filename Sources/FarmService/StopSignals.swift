import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT delivered to a handler on a dispatch queue instead of ending the process: what every sdfarm
/// service does on `systemctl stop`, `podman stop` or a pod's termination. `cancel()` stops listening.
public final class StopSignals: Sendable {
    // reason: the sources are created in init and only cancelled afterwards; DispatchSource is thread-safe.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    /// Calls `handler` on each SIGTERM or SIGINT (once per signal delivered).
    public init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGTERM, SIGINT].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    public func cancel() { sources.forEach { $0.cancel() } }
}
