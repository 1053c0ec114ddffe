import NIOCore
import Testing

@testable import MQTTServer

/// Layer 1: the receive allocator that lets NIO keep no buffer for an idle
/// connection (decision 0010). What NIO's pool does with it is measured by
/// `relay-bench connections`, not here.
@Suite struct ReceiveBufferAllocatorTests {
    let allocator = ByteBufferAllocator()

    @Test func theFirstReadIsTinyThenBuffersAreSizedAdaptively() {
        var receive = MQTTReceiveBufferAllocator()
        #expect(receive.buffer(allocator: allocator).capacity == MQTTReceiveBufferAllocator.firstReadCapacity)
        _ = receive.record(actualReadBytes: MQTTReceiveBufferAllocator.firstReadCapacity)
        var adaptive = AdaptiveRecvByteBufferAllocator()
        #expect(receive.buffer(allocator: allocator).capacity == adaptive.buffer(allocator: allocator).capacity)
        // A read that fills the buffer grows the next one, as adaptive does.
        let full = adaptive.buffer(allocator: allocator).capacity
        _ = receive.record(actualReadBytes: full)
        _ = adaptive.record(actualReadBytes: full)
        #expect(receive.buffer(allocator: allocator).capacity == adaptive.buffer(allocator: allocator).capacity)
        #expect(receive.buffer(allocator: allocator).capacity > full)
    }

    @Test func thePoolIsNeverToldToReuseABuffer() {
        var receive = MQTTReceiveBufferAllocator()
        #expect(receive.nextBufferSize() == nil)
        for bytes in [16, 10, 2048, 1, 65_536] {
            let mayGrow = receive.record(actualReadBytes: bytes)
            #expect(mayGrow)
            #expect(receive.nextBufferSize() == nil)
        }
    }
}
