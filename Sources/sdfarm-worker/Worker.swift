import ArgumentParser

@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sdfarm-worker",
        abstract: "Claim render jobs from the PostgreSQL queue and run them.")

    func run() async throws {
        throw ValidationError("the worker is not built yet")
    }
}
