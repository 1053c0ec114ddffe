import RelayCLIKit

await RelayClientCommand.runAsRoot()
