import ArgumentParser
import RelayConsole
import RelayCtlCommands
import RelayOps

/// `relayctl`: the commands of `RelayCtlCommand` and the console, which
/// lives in its own target so that `relay` does not link its HTTP server.
struct RelayCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: RelayCtlCommand.configuration.commandName,
        abstract: RelayCtlCommand.configuration.abstract,
        subcommands: RelayCtlCommand.configuration.subcommands + [ConsoleCommand.self]
    )
}

await RelayCtl.runAsRoot()
