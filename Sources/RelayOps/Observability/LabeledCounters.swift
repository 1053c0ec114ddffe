import CoreMetrics
import NIOConcurrencyHelpers

/// One counter per value of a single dimension (`origin`, `reason`), made on
/// first use and kept: for dimensions whose values are a small set (regions,
/// error codes).
package struct LabeledCounters: Sendable {
    package let label: String
    package let dimension: String
    private let counters = NIOLockedValueBox<[String: Counter]>([:])

    package init(label: String, dimension: String) {
        self.label = label
        self.dimension = dimension
    }

    /// Adds one to the counter of `value`.
    package func increment(_ value: String) {
        let counter = counters.withLockedValue { counters in
            if let counter = counters[value] { return counter }
            let counter = Counter(label: label, dimensions: [(dimension, value)])
            counters[value] = counter
            return counter
        }
        counter.increment()
    }
}
