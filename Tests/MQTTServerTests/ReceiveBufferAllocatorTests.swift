import NIOCore
import Testing

@testable import MQTTServer

/// Layer 1: the receive allocator that lets NIO keep no buffer for an idle
/// connection (decision 0010). What NIO's pool does with it is measured by
/// `relay-bench connections`, not here.
@Suite struct ReceiveBufferAllocatorTests {
    let allocator = ByteBufferAllocator()

    func capacity(_ receive: MQTTReceiveBufferAllocator) -> Int {
        receive.buffer(allocator: allocator).capacity
    }

    @Test func theFirstReadIsTinyThenBuffersAdapt() {
        var receive = MQTTReceiveBufferAllocator()
        #expect(capacity(receive) == MQTTReceiveBufferAllocator.firstReadCapacity)
        _ = receive.record(actualReadBytes: MQTTReceiveBufferAllocator.firstReadCapacity)
        #expect(capacity(receive) == 2048)
        // Full reads double the buffer, up to the maximum.
        for expected in [4096, 8192, 16_384, 32_768, 65_536, 65_536] {
            _ = receive.record(actualReadBytes: capacity(receive))
            #expect(capacity(receive) == expected)
        }
        // One small read does not shrink it; two in a row halve it.
        _ = receive.record(actualReadBytes: 100)
        #expect(capacity(receive) == 65_536)
        _ = receive.record(actualReadBytes: 100)
        #expect(capacity(receive) == 32_768)
        // A read between half and full resets the count.
        _ = receive.record(actualReadBytes: 100)
        _ = receive.record(actualReadBytes: 20_000)
        _ = receive.record(actualReadBytes: 100)
        #expect(capacity(receive) == 32_768)
        // Never below the minimum.
        for _ in 0..<40 { _ = receive.record(actualReadBytes: 1) }
        #expect(capacity(receive) == MQTTReceiveBufferAllocator.minimumCapacity)
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

    @Test func itsStateFitsInAnExistentialWithoutABox() {
        // An existential stores up to three words inline; NIO's channel keeps
        // its allocator as `any RecvByteBufferAllocator`.
        #expect(MemoryLayout<MQTTReceiveBufferAllocator>.size <= 3 * MemoryLayout<Int>.size)
    }
}
