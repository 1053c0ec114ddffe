import FuzzDriver

#if DEBUG || RELAY_FUZZ
FuzzDriver.main(name: "chat", seeds: seeds) {
    let fuzzer = try ChatFuzzer()
    return { fuzzer.run($0) }
}
#else
fatalError("FuzzChat needs a debug build or scripts/fuzz's build (-enable-testing)")
#endif
