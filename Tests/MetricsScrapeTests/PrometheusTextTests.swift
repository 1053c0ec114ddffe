import Testing

@testable import MetricsScrape

@Suite struct PrometheusTextTests {
    static let exposition = """
        # HELP relay_replication_lag_seconds age of the oldest unacknowledged frame
        # TYPE relay_replication_lag_seconds gauge
        relay_replication_lag_seconds{peer="eu-west"} 0.25
        relay_replication_lag_seconds{peer="ap-south"} 1.5
        relay_replication_lag_seconds_total 99
        relay_replication_outbox_frames{peer="eu-west"} 12
        relay_replication_outbox_frames{peer="ap-south",node="a b"} 3 1700000000000
        relay_up 1
        relay_escaped{path="C:\\\\x \\"y\\""} 7
        relay_broken{peer="eu-west} 5
        relay_nan{peer="x"} NaN
        """

    @Test func readsTheLargestValueOfAnyPeer() {
        #expect(PrometheusText.maximum(of: "relay_replication_lag_seconds", in: Self.exposition) == 1.5)
        #expect(PrometheusText.maximum(of: "relay_replication_outbox_frames", in: Self.exposition) == 12)
        #expect(PrometheusText.maximum(of: "relay_missing", in: Self.exposition) == nil)
    }

    @Test func readsLabelsAndSkipsTimestampsAndOtherMetrics() {
        let frames = PrometheusText.samples(of: "relay_replication_outbox_frames", in: Self.exposition)
        #expect(frames == [
            PrometheusSample(name: "relay_replication_outbox_frames", labels: ["peer": "eu-west"], value: 12),
            PrometheusSample(name: "relay_replication_outbox_frames", labels: ["peer": "ap-south", "node": "a b"], value: 3),
        ])
        #expect(PrometheusText.samples(of: "relay_up", in: Self.exposition) == [
            PrometheusSample(name: "relay_up", labels: [:], value: 1)
        ])
        #expect(PrometheusText.samples(of: "relay_escaped", in: Self.exposition).map(\.labels) == [["path": "C:\\x \"y\""]])
    }

    @Test func skipsLinesThatDoNotParse() {
        #expect(PrometheusText.samples(of: "relay_broken", in: Self.exposition).isEmpty)
        #expect(PrometheusText.samples(of: "relay_nan", in: Self.exposition).isEmpty)
    }

    @Test func aBodyIsCompleteByContentLengthOrAtTheEnd() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        #expect(PlainHTTP.completeBody(Array((head + "hel").utf8)) == nil)
        #expect(PlainHTTP.completeBody(Array((head + "hello").utf8)) == "hello")
        let unsized = Array("HTTP/1.1 200 OK\r\n\r\nabc".utf8)
        #expect(PlainHTTP.completeBody(unsized) == nil)
        #expect(PlainHTTP.completeBody(unsized, atEnd: true) == "abc")
        #expect(PlainHTTP.completeBody(Array("HTTP/1.1 200".utf8), atEnd: true) == nil)
    }
}
