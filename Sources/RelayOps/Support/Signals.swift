import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits until the process receives SIGINT or SIGTERM.
public enum TerminationSignal {
    /// Suspends until SIGINT or SIGTERM arrives; returns its number.
    public static func wait() async -> Int32 {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            sources.append(source)
        }
        var received: Int32 = SIGTERM
        for await sig in stream {
            received = sig
            break
        }
        for source in sources { source.cancel() }
        return received
    }
}
