import ArgumentParser

@main
struct SDFarm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sdfarm",
        abstract: "Stable Diffusion render farm: render locally, or submit and manage jobs in the PostgreSQL queue.",
        subcommands: [Render.self, Tokenize.self, Migrate.self, Submit.self, Status.self, Jobs.self, Show.self, Retry.self,
                      Cancel.self, Watch.self, Workers.self, Grid.self, Prune.self, Bench.self, Doctor.self, Metrics.self, Serve.self]
    )

    /// ArgumentParser's own main, with library errors about an input spelled with that input's flag.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: CommandLineError.translate(error))
        }
    }
}
