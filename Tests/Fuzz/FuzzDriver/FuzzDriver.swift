import Foundation

#if RELAY_FUZZ
import CLibFuzzer
#endif

/// The `main` of every fuzz target (docs/fuzzing.md).
///
/// Built by `scripts/fuzz` (`-D RELAY_FUZZ`, `-sanitize=fuzzer`, linked with
/// libFuzzer's `fuzzer_no_main` runtime) it hands the command line to
/// libFuzzer, which calls the target once per input. Built by a plain
/// `swift build` it is a regression runner: it runs each file named on the
/// command line (a folder: each file in it) once and exits 0 if none
/// crashed. In both builds `--write-seeds <folder>` writes the target's seed
/// inputs there and exits.
public enum FuzzDriver {
    /// The target being run. Set once, before libFuzzer starts, and read only
    /// by its single fuzzing thread.
    nonisolated(unsafe) private static var test: ((UnsafeRawBufferPointer) -> Void)?

    /// Runs the target named `name`: writes `seeds()` for `--write-seeds`,
    /// else calls `setUp` once and then fuzzes (or replays) the function it
    /// returns.
    public static func main(
        name: String,
        seeds: () throws -> [(name: String, bytes: [UInt8])],
        setUp: () throws -> (UnsafeRawBufferPointer) -> Void
    ) -> Never {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "--write-seeds" {
            do {
                try writeSeeds(try seeds(), to: arguments[2])
                exit(0)
            } catch {
                fail("\(name): cannot write seeds: \(error)")
            }
        }
        do {
            test = try setUp()
        } catch {
            fail("\(name): setup failed: \(error)")
        }
        #if RELAY_FUZZ
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in
            FuzzDriver.test!(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }))
        #else
        replay(name: name, paths: Array(arguments.dropFirst()))
        #endif
    }

    /// Runs every input under `paths` once, in name order.
    private static func replay(name: String, paths: [String]) -> Never {
        guard !paths.isEmpty else {
            fail("usage: \(arguments0) <input file or folder>... | --write-seeds <folder>")
        }
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { fail("\(path): no such file") }
            if isFolder.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { !$0.hasPrefix(".") }.sorted().map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { fail("\(file): unreadable") }
            // Printed first, so that a crash names its input.
            FileHandle.standardError.write(Data("\(name): running \(file)\n".utf8))
            data.withUnsafeBytes { test!($0) }
        }
        print("\(name): ran \(files.count) inputs, no crash")
        exit(0)
    }

    private static var arguments0: String { CommandLine.arguments.first ?? "fuzz" }

    private static func writeSeeds(_ seeds: [(name: String, bytes: [UInt8])], to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for seed in seeds {
            try Data(seed.bytes).write(to: URL(fileURLWithPath: folder).appendingPathComponent("seed-\(seed.name)"))
        }
        print("wrote \(seeds.count) seeds to \(folder)")
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}

/// Traps with `message` unless `condition` holds: a property a fuzz target
/// checks. Unlike `precondition`, it keeps its message in optimized builds.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
