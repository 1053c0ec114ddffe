import Relay

await RelayCommand.runAsRoot()
