#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time (user + system) this process has used so far, in seconds. The
/// benchmark reports it so a reader can tell whether the load generator itself
/// was the bottleneck.
func processCPUSeconds() -> Double {
    var usage = rusage()
    // RUSAGE_SELF is 0 on Linux and Darwin; Glibc imports it as an enum case
    // that getrusage's parameter type does not accept directly.
    guard getrusage(0, &usage) == 0 else { return 0 }
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1_000_000 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
