import ArgumentParser
import Dispatch
import Farm
import FarmService
import Foundation
import Logging

/// `sdfarm metrics --listen HOST:PORT`: the farm-wide Prometheus gauges, from one process.
struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the queue-wide Prometheus gauges (jobs per state and model, oldest queued age, live workers) at /metrics.",
        discussion: """
            Run one of these per farm (workers export their own series with sdfarm-worker --metrics). Each scrape reads the \
            queue once; /readyz answers 200 while PostgreSQL can be read. Stops on SIGTERM or SIGINT.
            """)

    @OptionGroup var db: DatabaseOptions

    @Option(help: "Address to listen on, HOST:PORT (e.g. 127.0.0.1:9465, or :9465 for every address).")
    var listen: String

    func run() throws {
        warnAboutPassword(db.database, flag: "--database")
        do { try DatabasePassword.load() } catch { throw ValidationError("\(error)") }
        let queue = QueueMetrics(url: db.database, logger: CLILogging.quiet)
        let endpoint: HTTPEndpoint
        do {
            endpoint = try HTTPEndpoint(listen: listen) { path in
                switch path {
                case "/metrics": .init(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: queue.scrape())
                case "/readyz", "/livez": .text(200, "ok\n")
                default: .text(404, "not found; try /metrics\n")
                }
            }
        } catch { throw ValidationError("--listen \(error)") }
        FileHandle.standardError.write(Data("sdfarm metrics: serving http://\(endpoint.address)/metrics\n".utf8))
        let done = DispatchSemaphore(value: 0)
        let signals = StopSignals { done.signal() }
        done.wait()
        endpoint.stop()
        signals.cancel()
    }
}
