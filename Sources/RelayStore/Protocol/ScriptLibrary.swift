import Foundation

/// The Lua scripts shipped with RelayStore, as package resources in
/// `Sources/RelayStore/Scripts/<name>.lua`.
public enum ScriptLibrary {
    /// Loads the script `name` (the file name without `.lua`).
    /// Throws when there is no such script.
    public static func load(_ name: String) throws -> RedisScript {
        guard let url = Bundle.module.url(forResource: name, withExtension: "lua", subdirectory: "Scripts") else {
            throw ScriptLibraryError(name: name)
        }
        let source = try String(contentsOf: url, encoding: .utf8)
        return RedisScript(name: name, source: source)
    }

    /// The names of all shipped scripts, sorted.
    public static var names: [String] {
        guard let folder = Bundle.module.url(forResource: "Scripts", withExtension: nil),
            let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        else { return [] }
        return files.filter { $0.hasSuffix(".lua") }.map { String($0.dropLast(4)) }.sorted()
    }
}

/// There is no shipped script of that name.
public struct ScriptLibraryError: Error, Hashable, Sendable {
    /// The name asked for.
    public var name: String

    /// The error for a missing script `name`.
    public init(name: String) {
        self.name = name
    }
}
