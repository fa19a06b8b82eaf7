import ArgumentParser
import Foundation
import Tensor

/// `sdfarm doctor`: what this machine's numeric core runs on, with an sgemm measurement.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the OpenBLAS kernels in use and measure sgemm throughput.")

    @Option(help: "Matrix size n for the n×n×n sgemm measurement (0 skips it).")
    var size = 2048

    @Option(help: "Also measure these OpenBLAS core types, comma-separated (e.g. PRESCOTT,HASWELL).")
    var compare: String = ""

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    func run() throws {
        let status = BLASRuntime.status
        var rows: [(String, Double)] = []
        if size > 0 {
            rows.append((BLASRuntime.activeCore, BLASBenchmark.sgemm(size: size).gflops))
            for core in compare.split(separator: ",").map(String.init) where !core.isEmpty {
                let active = BLASRuntime.forceCore(core)
                rows.append((active, BLASBenchmark.sgemm(size: size).gflops))
            }
            BLASRuntime.forceCore(status.activeCore)
        }
        if json {
            let measured = rows.map { "{\"core\": \"\($0.0)\", \"gflops\": \(String(format: "%.1f", $0.1))}" }.joined(separator: ", ")
            print("{\"detected\": \"\(status.detectedCore)\", \"active\": \"\(BLASRuntime.activeCore)\", \"switched\": \(status.switched), \"threads\": \(BLASRuntime.threads), \"sgemm_size\": \(size), \"measured\": [\(measured)]}")
        } else {
            print(status)
            print("threads: \(BLASRuntime.threads)")
            for (core, gflops) in rows {
                print("sgemm \(size)³ with \(core) kernels: \(String(format: "%.1f", gflops)) GFLOP/s")
            }
        }
    }
}
