import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
@testable import RelayChat
import Testing

@Suite struct BackgroundWorkTests {
    struct Failure: Error {}

    @Test func retriesWithGrowingDelaysThenGivesUp() {
        let loop = EmbeddedEventLoop()
        let work = BackgroundWork(logger: Logger(label: "test"))
        let attempts = NIOLockedValueBox(0)
        work.retry(.delivered, on: loop) {
            attempts.withLockedValue { $0 += 1 }
            return loop.makeFailedFuture(Failure()) as EventLoopFuture<Void>
        }
        #expect(attempts.withLockedValue { $0 } == 1)
        loop.advanceTime(by: .milliseconds(99))
        #expect(attempts.withLockedValue { $0 } == 1)
        loop.advanceTime(by: .milliseconds(1))
        #expect(attempts.withLockedValue { $0 } == 2)
        loop.advanceTime(by: .milliseconds(199))
        #expect(attempts.withLockedValue { $0 } == 2)
        loop.advanceTime(by: .milliseconds(1))
        #expect(attempts.withLockedValue { $0 } == BackgroundWork.attempts)
        loop.advanceTime(by: .seconds(10))
        #expect(attempts.withLockedValue { $0 } == BackgroundWork.attempts)
    }

    @Test func stopsRetryingOnceItSucceeds() {
        let loop = EmbeddedEventLoop()
        let work = BackgroundWork(logger: Logger(label: "test"))
        let attempts = NIOLockedValueBox(0)
        work.retry(.cursorMirror, on: loop) {
            let n = attempts.withLockedValue { $0 += 1; return $0 }
            return n < 2 ? loop.makeFailedFuture(Failure()) : loop.makeSucceededVoidFuture()
        }
        loop.advanceTime(by: .seconds(10))
        #expect(attempts.withLockedValue { $0 } == 2)
        #expect(BackgroundWork.Kind.typing.isBestEffort && !BackgroundWork.Kind.delivered.isBestEffort)
    }
}
