#if canImport(Glibc)
import Glibc
import RelayOps
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Runs an executable to completion with `posix_spawn` (default signal
/// handling, whatever this process blocks or ignores), its output appended
/// to a file, and awaits its exit without blocking the cooperative pool
/// (`waitpid` runs on a thread of its own).
enum ScriptRunner {
    /// Marks every descriptor of this process above stderr close-on-exec: none
    /// of its sockets (the console's listener, Redis connections) may live on
    /// in the long-lived servers a script starts, holding their ports. Harmless
    /// to this process, which does not exec.
    static func closeOnExec() {
        #if os(Linux)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for name in names {
            guard let fd = Int32(name), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
        #endif
    }

    /// Runs `path` with no arguments, stdin from /dev/null, stdout and stderr
    /// to `output`; returns its exit status (128 + signal when killed). After
    /// `timeout` it is killed and `AwaitableState.TimedOut` is thrown.
    static func run(_ path: String, output: String, timeout: Duration) async throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        closeOnExec()
        // The script and what it starts (long-lived servers) must not inherit this
        // process's blocked or ignored signals: reset the mask and every disposition.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw RelayCtlError("cannot run \(path): \(String(cString: strerror(rc)))") }
        let exited = AwaitableState<Int32?>(nil)
        let child = pid
        let waiter = Thread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            exited.update { $0 = code }
        }
        waiter.start()
        do {
            return try await exited.wait(until: { $0 != nil }, timeout: timeout) ?? -1
        } catch {
            kill(child, SIGKILL)
            throw error
        }
    }
}
