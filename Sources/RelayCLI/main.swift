import RelayOps
import RelayServerCommands

await RelayCommand.runAsRoot()
