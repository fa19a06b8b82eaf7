import ArgumentParser
import Dispatch
import FarmServer
import Foundation
import Synchronization

/// `sdfarm serve`: the web dashboard and the JSON API (FarmServer), and webhook delivery.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the web dashboard and the JSON API under /api/v1 (and deliver batch webhooks).",
        discussion: """
            Listens on loopback by default. Every API request and every action in the page needs the token
            (Authorization: Bearer TOKEN): SDFARM_API_TOKEN, else --token-file FILE (created with a random token
            when missing, on loopback only), else a random token printed at start. Another address needs a token.
            """)

    @OptionGroup var db: DatabaseOptions

    @Option(help: "HOST:PORT to listen on (port 0: any free port, printed).")
    var listen = ServerConfiguration.defaultListen

    @Option(help: "Shared storage root the workers write to (default: SDFARM_STORAGE); images are served from below it only.")
    var storage: String?

    @Option(help: "A file holding the API token (created with a random one when missing, on loopback).")
    var tokenFile: String?

    @Option(help: "The largest request body accepted, in bytes.")
    var maxBodyBytes = ServerConfiguration.defaultMaxBodyBytes

    @Flag(help: "Do not deliver webhooks from this process.")
    var noWebhooks = false

    func run() throws {
        warnAboutPassword(db.database, flag: "--database")
        guard let root = storage ?? ProcessInfo.processInfo.environment["SDFARM_STORAGE"], !root.isEmpty else {
            throw ValidationError("give --storage DIR (the shared storage the workers write to) or set SDFARM_STORAGE")
        }
        guard (1024...(1 << 30)).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes \(maxBodyBytes): give 1024…1073741824") }
        let config: ServerConfiguration
        do {
            config = try ServerConfiguration(listen: listen, storage: root, environmentToken: ProcessInfo.processInfo.environment["SDFARM_API_TOKEN"],
                                             tokenFile: tokenFile, database: db.database, maxBodyBytes: maxBodyBytes, webhooks: !noWebhooks)
        } catch let e as ServerConfiguration.Invalid {
            throw ValidationError(e.description)
        }
        let server = FarmServer(configuration: config, logger: CLILogging.logger("sdfarm.serve"))
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        let generated = config.tokenSource.hasPrefix("generated") ? config.token : nil
        Task {
            do {
                try await server.run { port in
                    let host = config.host.contains(":") ? "[\(config.host)]" : config.host
                    var line = "sdfarm serve: dashboard at http://\(host):\(port)/ (API under /api/v1; token from \(config.tokenSource))\n"
                    if let generated { line += "sdfarm serve: API token \(generated)\n" }
                    FileHandle.standardOutput.write(Data(line.utf8))
                }
            } catch {
                failure.withLock { $0 = error }
            }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
