import RelayBench

@main
struct RelayBenchCLI {
    static func main() async {
        await RelayBenchCommand.main()
    }
}
