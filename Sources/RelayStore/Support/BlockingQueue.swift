import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A FIFO that dedicated threads block on, over a pthread mutex and
/// condition variable.
///
/// `@unchecked Sendable` is safe because every access to `items` and
/// `closed` happens with `mutex` held, and the mutex and condition variable
/// are allocated in `init`, never moved, and destroyed only in `deinit`
/// (when no other reference exists).
final class BlockingQueue<Element: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var items: [Element] = []
    private var head = 0
    private var closed = false

    init() {
        self.mutex = .allocate(capacity: 1)
        self.condition = .allocate(capacity: 1)
        precondition(pthread_mutex_init(self.mutex, nil) == 0, "pthread_mutex_init failed")
        precondition(pthread_cond_init(self.condition, nil) == 0, "pthread_cond_init failed")
    }

    deinit {
        pthread_cond_destroy(self.condition)
        pthread_mutex_destroy(self.mutex)
        self.condition.deallocate()
        self.mutex.deallocate()
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body()
    }

    /// Adds `element` and wakes one waiting thread. Returns false (and
    /// keeps nothing) once the queue is closed.
    func push(_ element: Element) -> Bool {
        let pushed = self.withLock {
            guard !self.closed else { return false }
            self.items.append(element)
            return true
        }
        if pushed { pthread_cond_signal(self.condition) }
        return pushed
    }

    /// Blocks until there is work or the queue is closed, then takes the
    /// oldest elements whose `weight` adds up to at most `maximumWeight`
    /// (always at least one). Returns nil once closed.
    func popBatch(maximumWeight: Int, weight: (Element) -> Int) -> [Element]? {
        let (batch, more): ([Element]?, Bool) = self.withLock {
            while !self.closed && self.head == self.items.count {
                pthread_cond_wait(self.condition, self.mutex)
            }
            if self.closed { return (nil, false) }
            var end = self.head
            var total = 0
            while end < self.items.count {
                let w = weight(self.items[end])
                if end > self.head && total + w > maximumWeight { break }
                total += w
                end += 1
            }
            let batch = Array(self.items[self.head..<end])
            self.head = end
            if self.head == self.items.count {
                self.items.removeAll(keepingCapacity: self.items.count <= 4096)
                self.head = 0
            } else if self.head > 4096 && self.head * 2 > self.items.count {
                self.items.removeFirst(self.head)
                self.head = 0
            }
            return (batch, self.head < self.items.count)
        }
        // Left-over work: let another thread take it while this one works.
        if more { pthread_cond_signal(self.condition) }
        return batch
    }

    /// Closes the queue, wakes every waiting thread and returns what was
    /// still queued.
    func close() -> [Element] {
        let remaining: [Element] = self.withLock {
            self.closed = true
            let remaining = Array(self.items[self.head...])
            self.items = []
            self.head = 0
            return remaining
        }
        pthread_cond_broadcast(self.condition)
        return remaining
    }
}
