import Relay

await RelayCtlCommand.runAsRoot()
