import FuzzDriver

#if DEBUG || RELAY_FUZZ
FuzzDriver.main(name: "replication", seeds: seeds) {
    let fuzzer = try ReplicationFuzzer()
    return { fuzzer.run($0) }
}
#else
fatalError("FuzzReplication needs a debug build or scripts/fuzz's build (-enable-testing)")
#endif
