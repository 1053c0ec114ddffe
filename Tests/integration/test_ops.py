"""Operability endpoints and JSON logs of `relay serve` (issue 5): a real
redis-server and relay node, HTTP through urllib. Every wait is bounded."""

import json
import socket
import os
import time
import urllib.error
import urllib.request

import pytest

from chat_support import HOST, Deployment, Device, Refused, direct, free_port, unique_names

pytestmark = pytest.mark.skipif(not os.environ.get("RELAY_BIN"), reason="needs RELAY_BIN")


def http(port, path, method="GET", timeout=5):
    """(status, body) of one request."""
    request = urllib.request.Request("http://%s:%d%s" % (HOST, port, path), method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def until(predicate, timeout, what):
    """Polls `predicate` (which answers itself within its own timeout) under a deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last[0]:
            return last[1]
        time.sleep(0.1)  # polling state another process changes, under a deadline
    raise AssertionError("%s not seen in %ss; last: %r" % (what, timeout, last))


def metric(body, name, labels=""):
    """The value of one sample line `name{labels} value`, or None."""
    for line in body.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def region(tmp_path):
    port = free_port()
    d = Deployment(tmp_path, nodes=1, extra_args=[
        "--http-listen", "%s:%d" % (HOST, port), "--log-format", "json", "--log-level", "debug"])
    d.nodes[0].wait_for("http on http://", 30)
    d.http_port = port
    yield d
    d.stop()


def test_health_ready_metrics_and_unknown_paths(region):
    port = region.http_port
    assert http(port, "/healthz") == (200, "ok\n")
    status, body = http(port, "/readyz")
    assert status == 200, body
    ready = json.loads(body)
    assert ready["ready"] is True and ready["checks"]["redis"]["ready"] is True

    assert http(port, "/nope")[0] == 404
    assert http(port, "/healthz", method="POST")[0] == 405

    status, body = http(port, "/metrics")
    assert status == 200
    assert "relay_sessions" in body


def test_a_send_shows_in_the_metrics(region):
    names = unique_names()
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone", version=4)
    status, body = http(region.http_port, "/metrics")
    assert metric(body, "relay_sessions", '{protocol="5.0"}') == 1, body
    assert metric(body, "relay_sessions", '{protocol="3.1.1"}') == 1, body

    a.send(direct(alice, bob), "hello")
    b.messages(1)

    def sent():
        _, body = http(region.http_port, "/metrics")
        return (metric(body, "relay_sends_accepted_total") or 0) >= 1, body
    body = until(sent, 10, "relay_sends_accepted_total >= 1")
    assert any(line.startswith("relay_send_ack_duration_seconds_bucket{") for line in body.splitlines()), body
    assert metric(body, "relay_send_ack_duration_seconds_count") >= 1
    assert metric(body, "relay_redis_request_duration_seconds_count") >= 1
    assert metric(body, "relay_fanout_devices_count") >= 1
    assert metric(body, "relay_packets_received_total") > 0
    assert metric(body, "relay_bytes_sent_total") > 0

    with pytest.raises(Refused):  # PUBACK 0x87, not_member
        a.send(direct(names("carol"), names("dave")), "not mine")

    def refused():
        _, body = http(region.http_port, "/metrics")
        return metric(body, "relay_sends_refused_total", '{reason="not_member"}') == 1, body
    until(refused, 10, 'relay_sends_refused_total{reason="not_member"} 1')
    a.close()
    b.close()

    def gone():
        _, body = http(region.http_port, "/metrics")
        return metric(body, "relay_sessions", '{protocol="5.0"}') == 0, body
    until(gone, 10, "relay_sessions back to 0")


def test_not_ready_once_redis_stops(region):
    port = region.http_port
    assert http(port, "/readyz")[0] == 200
    region.redis.stop()

    def refused():
        status, body = http(port, "/readyz")
        return status == 503, body
    body = json.loads(until(refused, 15, "/readyz 503"))
    assert body["ready"] is False and body["checks"]["redis"]["ready"] is False
    assert body["checks"]["redis"]["detail"]
    assert http(port, "/healthz")[0] == 200


def test_logs_are_one_json_object_per_line(region):
    names = unique_names()
    alice = names("alice")
    Device(region, alice, alice + "-phone").close()
    region.nodes[0].log.flush()

    def logged():
        with open(region.nodes[0].log_path) as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
        return len(lines) > 0, lines
    lines = until(logged, 10, "a log line")
    for line in lines:
        event = json.loads(line)
        assert {"timestamp", "level", "label", "message"} <= set(event), line


def test_broker_serves_the_endpoints_too(tmp_path):
    from chat_support import Process
    mqtt, port = free_port(), free_port()
    broker = Process([os.environ["RELAY_BIN"], "broker", "--listen", "%s:%d" % (HOST, mqtt),
                      "--http-listen", "%s:%d" % (HOST, port), "--threads", "1"],
                     str(tmp_path), "broker", ready="http on http://", timeout=30)
    try:
        assert http(port, "/healthz") == (200, "ok\n")
        status, body = http(port, "/readyz")
        assert status == 200 and json.loads(body) == {"ready": True, "checks": {}}
        status, body = http(port, "/metrics")
        assert status == 200 and 'relay_sessions{protocol="5.0"} 0' in body
        request = urllib.request.Request("http://%s:%d/healthz" % (HOST, port), data=b"x" * 10000, method="GET")
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("a 10 kB body was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 413
    finally:
        broker.stop()


def bucket(body, name, le):
    """The cumulative count of histogram `name` at upper bound `le` (a float)."""
    for line in body.splitlines():
        if line.startswith(name + "_bucket{") and " " in line:
            labels, value = line.rsplit(" ", 1)
            bound = labels.split('le="', 1)[1].split('"', 1)[0]
            if bound != "+Inf" and float(bound) == le:
                return float(value)
    return None


def test_delivery_latency_and_queue_depth(region):
    """Five sends wait for an offline device: when it connects, its pump reads
    a backlog of five (a queue-depth sample above 4), and each of its five
    PUBACKs records one send→delivery time, which includes the wait."""
    names = unique_names()
    alice, bob = names("alice"), names("bob")
    a = Device(region, alice, alice + "-phone")
    b = Device(region, bob, bob + "-phone")  # registers bob's device
    b.close()
    conversation = direct(alice, bob)
    for i in range(5):
        a.send(conversation, "m%d" % i)
    _, body = http(region.http_port, "/metrics")
    assert (metric(body, "relay_send_delivery_duration_seconds_count") or 0) == 0, body
    b.subscribed.clear()
    b.connect()
    assert [m.seq for m in b.messages(5)] == [1, 2, 3, 4, 5]

    def delivered():
        _, body = http(region.http_port, "/metrics")
        return metric(body, "relay_send_delivery_duration_seconds_count") == 5, body
    body = until(delivered, 10, "relay_send_delivery_duration_seconds_count == 5")
    # Every delivery waited at least until bob connected, after the sends.
    assert 0 <= metric(body, "relay_send_delivery_duration_seconds_sum") < 5 * 60, body
    assert bucket(body, "relay_send_delivery_duration_seconds", 86400.0) == 5, body

    samples = metric(body, "relay_device_queue_depth_count")
    assert samples and samples >= 1, body
    assert bucket(body, "relay_device_queue_depth", 4.0) < samples, body  # the backlog of 5
    assert metric(body, "relay_device_queue_depth_sum") >= 5, body
    a.close()
    b.close()


def test_sigterm_stops_the_node_cleanly(region):
    """relay serve runs as a ServiceGroup: SIGTERM stops every part and exits 0."""
    node = region.nodes[0]
    node.stop()
    with open(node.log_path, errors="replace") as f:
        log = f.read()
    assert node.proc.returncode == 0, log
    assert "stopping" in log
    with socket.socket() as s:  # its MQTT listener is gone
        assert s.connect_ex((HOST, node.port)) != 0


def test_a_part_that_cannot_start_stops_those_that_did(tmp_path):
    """The HTTP port is taken: the node exits non-zero naming the cause, and
    its MQTT listener is not left open (nothing left running)."""
    from chat_support import Process, bin_path
    taken = socket.socket()
    taken.bind((HOST, free_port()))
    taken.listen()
    d = Deployment(tmp_path, nodes=0)
    mqtt = free_port()
    try:
        cmd = [os.environ["RELAY_BIN"], "serve", "--listen", "%s:%d" % (HOST, mqtt), "--redis", "%s:%d" % (HOST, d.redis_port),
               "--key-dir", d.keys, "--http-listen", "%s:%d" % taken.getsockname()]
        node = Process(cmd, str(tmp_path), "relay-taken")
        node.proc.wait(30)
        assert node.proc.returncode != 0
        assert "Address already in use" in node.tail(), node.tail()
        with socket.socket() as s:
            assert s.connect_ex((HOST, mqtt)) != 0
        node.log.close()
    finally:
        taken.close()
        d.stop()
