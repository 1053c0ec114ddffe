import ArgumentParser

extension AsyncParsableCommand {
    /// Parses the process arguments as this root command and runs the chosen
    /// subcommand, async or not; prints usage errors and exits with their code.
    public static func runAsRoot() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
