#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A non-blocking pipe that wakes a `poll()` loop from any thread.
final class WakeupPipe: Sendable {
    /// The end the loop polls for reading.
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    init() {
        var descriptors: [Int32] = [-1, -1]
        precondition(pipe(&descriptors) == 0, "pipe() failed: errno \(errno)")
        for fd in descriptors {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        self.readDescriptor = descriptors[0]
        self.writeDescriptor = descriptors[1]
    }

    deinit {
        close(self.readDescriptor)
        close(self.writeDescriptor)
    }

    /// Makes the read end readable. A full pipe already is, so EAGAIN is fine.
    func wake() {
        var byte: UInt8 = 1
        _ = write(self.writeDescriptor, &byte, 1)
    }

    /// Empties the pipe (on the loop's thread).
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(self.readDescriptor, &buffer, buffer.count) > 0 {}
    }
}
