import CoreMetrics
import Prometheus

/// Process-wide metrics set-up for `relay serve` and `relay broker`.
public enum MetricsSetup {
    /// Bootstraps `MetricsSystem` with a Prometheus factory over a new
    /// registry, with buckets sized for this relay (sub-millisecond Redis
    /// and send latencies, fan-outs up to large groups); returns the registry
    /// that `/metrics` emits. Call once per process, before any metric is made.
    public static func bootstrapPrometheus() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500),
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .milliseconds(2500),
        ]
        factory.durationHistogramBuckets["relay_send_ack_duration_seconds"] = fast
        factory.durationHistogramBuckets["relay_redis_request_duration_seconds"] = fast
        // Deliveries to devices that were offline take minutes or days; the
        // online path is in the fast buckets.
        factory.durationHistogramBuckets["relay_send_delivery_duration_seconds"] = fast + [
            .seconds(10), .seconds(60), .seconds(600), .seconds(3600), .seconds(86400),
        ]
        factory.valueHistogramBuckets["relay_device_queue_depth"] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 10000, 100_000]
        factory.valueHistogramBuckets["relay_fanout_devices"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
        MetricsSystem.bootstrap(factory)
        return registry
    }
}
