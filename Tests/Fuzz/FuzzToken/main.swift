import FuzzDriver

FuzzDriver.main(name: "token", seeds: seeds, setUp: makeTest)
