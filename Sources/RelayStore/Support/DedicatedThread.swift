#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain pthread for blocking work (hiredis calls), never an event loop.
struct DedicatedThread: Sendable {
    private let handle: pthread_t

    private final class Body {
        let name: String
        let run: () -> Void
        init(name: String, run: @escaping () -> Void) {
            self.name = name
            self.run = run
        }
    }

    /// Starts a thread running `body`; `name` is for debugging.
    static func start(name: String, _ body: @escaping @Sendable () -> Void) -> DedicatedThread {
        let box = Unmanaged.passRetained(Body(name: name, run: body)).toOpaque()
        var handle = pthread_t()
        let status = pthread_create(&handle, nil, { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        precondition(status == 0, "pthread_create failed: \(status)")
        return DedicatedThread(handle: handle)
    }

    /// Whether the calling thread is this one.
    var isCurrent: Bool { pthread_equal(self.handle, pthread_self()) != 0 }

    /// Lets the thread's resources go when it ends, without waiting. Call
    /// once, and never with `join()`.
    func detach() {
        pthread_detach(self.handle)
    }

    /// Waits for the thread to finish. Call once.
    func join() {
        precondition(!self.isCurrent, "a thread cannot join itself")
        pthread_join(self.handle, nil)
    }
}
