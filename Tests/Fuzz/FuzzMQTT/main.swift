import FuzzDriver

FuzzDriver.main(name: "mqtt", seeds: seeds, setUp: { fuzzOne })
