import Foundation
import Signal
import Testing

@Suite("State directory (DirectoryRecordStorage)")
struct StateDirectoryTests {
    static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("signal-state-\(UUID().uuidString)")
    }

    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    @Test("files are 0600 in a 0700 directory, no temporary file is left behind")
    func modes() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let storage = try DirectoryRecordStorage(directory: directory)
        try storage.write(Data("one".utf8), to: "a.1")
        try storage.write(Data("two".utf8), to: "a.1")
        #expect(try storage.read("a.1") == Data("two".utf8))
        #expect(try Self.mode(directory.path) == 0o700)
        #expect(try Self.mode(directory.appendingPathComponent("a.1").path) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["a.1"])
        #expect(try storage.remove("a.1"))
        #expect(try !storage.remove("a.1"))
        #expect(try storage.read("a.1") == nil)
    }

    @Test("a directory others could read is made private on open")
    func tightensMode() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        _ = try DirectoryRecordStorage(directory: directory)
        #expect(try Self.mode(directory.path) == 0o700)
    }

    @Test("bad record names are refused", arguments: ["", "../x", ".hidden", "A", "a/b"])
    func badNames(name: String) throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let storage = try DirectoryRecordStorage(directory: directory)
        #expect(throws: RecordStorageError.self) { try storage.write(Data(), to: name) }
    }

    @Test("a restarted device keeps its identity and sessions")
    func restart() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bob = try TestDevice("bob")
        var identity: LocalIdentity?
        do {
            let alice = try TestDevice("alice", storage: DirectoryRecordStorage(directory: directory))
            identity = try alice.store.localIdentity()
            try alice.signal.processBundle(bob.bundle(), for: bob.address)
            _ = try bob.signal.decrypt(alice.signal.encrypt(Data("before".utf8), for: bob.address), from: alice.address)
        }
        // A new process: the same directory.
        let store = SignalRecordStore(storage: try DirectoryRecordStorage(directory: directory))
        #expect(try store.localIdentity() == identity)
        let signal = try SignalProtocol(store: store)
        let alice = SignalAddress(name: "alice", deviceID: 1)
        let message = try signal.encrypt(Data("after restart".utf8), for: bob.address)
        #expect(try bob.signal.decrypt(message, from: alice) == Data("after restart".utf8))
        let answer = try bob.signal.encrypt(Data("welcome back".utf8), for: alice)
        #expect(try signal.decrypt(answer, from: bob.address) == Data("welcome back".utf8))
    }
}
